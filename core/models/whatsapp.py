"""A shop's WhatsApp Business connection, as Meta described it when the shop connected.

The shop row keeps the identity that the hot paths use (``meta_phone_number_id`` routes status
webhooks, ``meta_waba_id`` lists templates, the encrypted token sends, ``messages_per_second``
caps dispatch). This row keeps what Meta told us about that number when the merchant connected
it (its name, quality, tiers, our webhook subscription), and when a webhook for it last
arrived. A disconnect (or an uninstall) clears the shop's identity and stamps
``disconnected_at`` here; campaigns and messages stay. The Meta token then waits here, encrypted,
in ``release_token_ciphertext``, only until our app is unsubscribed from the WABA's webhooks
(core/whatsapp/release.py), and is forgotten then.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, false
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at_column


class WhatsAppConnection(Base):
    __tablename__ = "whatsapp_connections"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    waba_id: Mapped[str] = mapped_column(String(64))
    phone_number_id: Mapped[str] = mapped_column(String(64))
    display_phone_number: Mapped[str | None] = mapped_column(String(64))
    verified_name: Mapped[str | None] = mapped_column(String(255))
    quality_rating: Mapped[str | None] = mapped_column(String(32))  # GREEN, YELLOW, RED, NA
    messaging_limit_tier: Mapped[str | None] = mapped_column(String(32))  # TIER_250 ... TIER_UNLIMITED
    throughput_level: Mapped[str | None] = mapped_column(String(32))  # STANDARD, HIGH, ...
    name_status: Mapped[str | None] = mapped_column(String(32))  # the display name review: APPROVED, ...
    # The number's own status as Meta reports it (WhatsAppAccountNumberStatus: CONNECTED,
    # PENDING, FLAGGED, RESTRICTED, DISCONNECTED, UNVERIFIED); migration 0031_number_status.
    number_status: Mapped[str | None] = mapped_column(String(32))
    # The currency Meta bills the WhatsApp Business Account in (GET /{waba-id}?fields=currency):
    # it picks the rate card (core/outcomes/pricing.py). None until Meta has said.
    currency: Mapped[str | None] = mapped_column(String(3))
    messages_per_second: Mapped[int] = mapped_column(Integer)  # Meta's cap for the number
    on_business_app: Mapped[bool] = mapped_column(Boolean, server_default=false())  # coexistence: 20/s
    webhooks_subscribed: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # Required webhook fields our Meta app lacks, as Meta said at the last check (None: unknown).
    webhook_fields_missing: Mapped[list | None] = mapped_column(JSONB)
    connected_at: Mapped[datetime] = created_at_column()
    checked_at: Mapped[datetime] = created_at_column()  # when Meta last confirmed the facts above
    disconnected_at: Mapped[datetime | None]
    last_webhook_at: Mapped[datetime | None]
    release_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The two-step verification PIN the app registered the number with (core/whatsapp/registration.py),
    # encrypted like the tokens, and when; both null for a number registered before it connected.
    two_step_pin_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    registered_at: Mapped[datetime | None]
    # What Meta's account-level webhooks said last (core/meta_webhooks/account_changes.py):
    # the portfolio's messaging limit (unique customers per rolling 24 h, -1 unlimited), the
    # number's last quality event, and the account's last event with its restrictions.
    messaging_limit: Mapped[int | None]
    quality_event: Mapped[str | None] = mapped_column(String(32))
    account_event: Mapped[str | None] = mapped_column(String(64))
    account_restrictions: Mapped[list | None] = mapped_column(JSONB)
    health_at: Mapped[datetime | None]  # Meta's time of the newest of those events


class MetaTemplateState(Base):
    """A template's state and quality as Meta's template webhooks last said, per shop: what
    halts the campaigns sending it (PAUSED, DISABLED) and what lets them resume (APPROVED).
    An event older than the one stored changes nothing: Meta's webhooks come out of order."""

    __tablename__ = "meta_template_states"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(Text, primary_key=True)
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    template_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str | None] = mapped_column(String(32))  # APPROVED, PAUSED, DISABLED, FLAGGED ...
    reason: Mapped[str | None] = mapped_column(Text)
    status_at: Mapped[datetime | None]
    quality: Mapped[str | None] = mapped_column(String(16))  # GREEN, YELLOW, RED, UNKNOWN
    quality_at: Mapped[datetime | None]
