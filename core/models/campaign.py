from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at_column


def _counter() -> Mapped[int]:
    return mapped_column(server_default=text("0"))


class Campaign(Base):
    """A WhatsApp template broadcast. The counters are denormalised so a page reads them in
    constant time; the drain keeps them exact in the same transaction as the messages, and
    MonitorCampaignJob reconciles them against a GROUP BY (see DESIGN.md's metric definitions)."""

    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("shop_id", "name"),
        Index(None, "shop_id", "created_at", "id"),  # keyset paging of the campaigns list
        Index(None, "shop_id", "status"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), server_default="DRAFT")
    template_name: Mapped[str] = mapped_column(Text)
    template_language: Mapped[str] = mapped_column(String(16))
    template_category: Mapped[str] = mapped_column(String(32))
    template_format: Mapped[str | None] = mapped_column(String(32))
    # What fills the template's body placeholders {{1}}, {{2}}, ... (core/templates/definition.py).
    template_parameters: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # Header, body and button parameters in Meta's component shape (core/templates/components.py); a
    # campaign made with body-only parameters has none here and sends those.
    template_components: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    # The template's own components as Meta listed them at draft or launch (for the preview).
    template_definition: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    audience: Mapped[dict] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    estimated_audience: Mapped[int] = _counter()
    created_at: Mapped[datetime] = created_at_column()
    scheduled_at: Mapped[datetime | None]
    launched_at: Mapped[datetime | None]
    dispatch_started_at: Mapped[datetime | None]
    dispatch_finished_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    halted_reason: Mapped[str | None] = mapped_column(Text)
    halted_code: Mapped[str | None] = mapped_column(String(32))  # Meta's code that halted dispatch
    # Over Meta's messaging limit, the merchant may send in waves a day apart
    # (core/campaigns/messaging_limit.py): the choice, then at launch the waves' sizes.
    spread_over_limit: Mapped[bool] = mapped_column(server_default=text("false"))
    spread_first_wave: Mapped[int | None]
    spread_wave_size: Mapped[int | None]
    # The whole percent of the audience kept unsent as a baseline (core/experiments/holdout.py).
    holdout_share: Mapped[int] = _counter()
    held_out_count: Mapped[int] = _counter()  # written once, when the audience is materialised
    # A/B variants (core/reports/variants.py): [{id, name, share, template {name, language,
    # category, format}, components, definition}], empty without; and the metric they compete on.
    variants: Mapped[list] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    experiment_metric: Mapped[str | None] = mapped_column(String(32))
    # Test then send (core/experiments/test_then_send.py): {share, hours} sends the variants to a
    # test share first; the rest's job adds {winner, reason, rest_at, rest_messages}. Null without.
    test_then_send: Mapped[dict | None] = mapped_column(JSONB)
    # When each customer is sent (core/experiments/send_time.py): ``now``, or ``per_customer`` at
    # the hour they read within the window.
    send_time_mode: Mapped[str] = mapped_column(String(16), server_default="now")
    send_time_window_hours: Mapped[int | None]
    # "Send again to fixed customers": the campaign whose failures this one sends to again.
    follow_up_of: Mapped[int | None]
    messages_count: Mapped[int] = _counter()
    sent_count: Mapped[int] = _counter()
    delivered_count: Mapped[int] = _counter()
    read_count: Mapped[int] = _counter()
    failed_count: Mapped[int] = _counter()
    clicked_count: Mapped[int] = _counter()
    # Dispatch progress (core/counts/recount.py PROGRESS_COLUMNS): messages handed to Meta, and
    # messages that failed before reaching Meta. Queued = messages - submitted - failed before send.
    submitted_count: Mapped[int] = _counter()
    failed_before_send_count: Mapped[int] = _counter()
