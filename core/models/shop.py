from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Identity, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at_column


class Shop(Base):
    """A Shopify shop that installed the app. Access tokens are stored encrypted
    (core/crypto.py); the columns hold ciphertext, never a usable token."""

    __tablename__ = "shops"
    # Credits are reserved only while there are some (core/dispatch/claim.py) and a settlement
    # takes only what is left (core/outcomes/credits.py): this says so to the database too.
    __table_args__ = (CheckConstraint("credits >= 0", name="credits_not_negative"),)

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    domain: Mapped[str] = mapped_column(String(255), unique=True)
    access_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    access_token_expires_at: Mapped[datetime | None]
    refresh_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    refresh_token_expires_at: Mapped[datetime | None]
    scopes: Mapped[str] = mapped_column(Text, server_default="")
    installed_at: Mapped[datetime] = created_at_column()
    uninstalled_at: Mapped[datetime | None]
    customers_synced_at: Mapped[datetime | None]  # the last full import from the Admin API ended
    # Where the next incremental re-sync starts: when the last completed sync started.
    customers_resync_from: Mapped[datetime | None]
    customers_bulk_operation_id: Mapped[str | None] = mapped_column(String(128))  # a running export
    # Whether Shopify's SMS marketing consent counts as consent to WhatsApp marketing (Settings).
    sms_consent_counts: Mapped[bool] = mapped_column(server_default=text("false"))
    timezone: Mapped[str] = mapped_column(String(64), server_default="UTC")
    locale: Mapped[str] = mapped_column(String(16), server_default="en")
    currency: Mapped[str] = mapped_column(String(3), server_default="USD")
    # Meta routes status webhooks by phone number id; one number per shop for now.
    meta_phone_number_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    meta_waba_id: Mapped[str | None] = mapped_column(String(64))
    meta_access_token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    messages_per_second: Mapped[int] = mapped_column(Integer, server_default=text("80"))
    # A lower rate the merchant chose (Settings); checks with Meta never send faster than it.
    send_cap_per_second: Mapped[int | None] = mapped_column(Integer)
    # At most one marketing campaign per customer in this many hours (Settings; None: no cap),
    # so sends Meta would refuse with 131049 (its own per-customer marketing limit) are not wasted.
    marketing_cap_hours: Mapped[int | None] = mapped_column(Integer)
    credits: Mapped[int] = mapped_column(server_default=text("0"))
    # Days after a message reaches a customer during which their order counts for its campaign.
    attribution_window_days: Mapped[int] = mapped_column(Integer, server_default=text("7"))
    # The merchant's own rates per (country, category), over the shipped card (core/outcomes/rate_card.py).
    rate_card: Mapped[dict | None] = mapped_column(JSONB)
    # When an order or refund of the shop was last written: cached outcomes are keyed by it.
    orders_changed_at: Mapped[datetime | None]


class ShopAlert(Base):
    """Something the merchant must know about their WhatsApp account: Meta's account-level
    errors (``value.errors`` webhooks) and campaigns halted by account or template codes."""

    __tablename__ = "shop_alerts"
    __table_args__ = (Index(None, "shop_id", "created_at"),)

    shop_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    campaign_id: Mapped[int | None]
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text, server_default="")
    details: Mapped[str] = mapped_column(Text, server_default="")
    created_at: Mapped[datetime] = created_at_column()
    resolved_at: Mapped[datetime | None]
