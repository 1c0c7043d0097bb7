from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at_column


class Customer(Base):
    """A Shopify customer as we last heard of them (Admin API sync and webhooks)."""

    __tablename__ = "customers"
    __table_args__ = (
        UniqueConstraint("shop_id", "shopify_customer_id"),
        Index(
            "ix_customers_consent_writeback",
            "shop_id",
            postgresql_where=text("consent_writeback_at IS NOT NULL"),
        ),
        # The customers without a valid number, few in a shop: the campaign page counts which of
        # those a missing calling code failed are still unfixed (migration 0013_failure_counts).
        Index("ix_customers_without_e164", "shop_id", "id", postgresql_where=text("phone_e164 IS NULL")),
        # A stop inside WhatsApp reaches every customer of the shop with the number
        # (core/meta_webhooks/preferences.py; migration 0018_paid_orders_and_consent).
        Index("ix_customers_shop_id_phone_e164", "shop_id", "phone_e164"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    shopify_customer_id: Mapped[int]
    first_name: Mapped[str] = mapped_column(Text, server_default="")
    last_name: Mapped[str] = mapped_column(Text, server_default="")
    phone: Mapped[str | None] = mapped_column(String(64))  # as Shopify holds it
    phone_e164: Mapped[str | None] = mapped_column(String(20))  # null when it does not parse
    country_code: Mapped[str | None] = mapped_column(String(2))  # default address, ISO-2
    tags: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default=text("'{}'"))
    # WhatsApp marketing consent: Shopify's (defaultPhoneNumber.whatsAppMarketingConsent) and
    # the stops and resumes Meta reports. Who may be messaged is core/campaigns/audience.py's rule.
    consent: Mapped[str] = mapped_column(String(16), server_default="UNKNOWN")
    consent_updated_at: Mapped[datetime | None]
    # Where the consent came from: "shopify", "whatsapp_stop" (a stop inside WhatsApp or a
    # 131050), "whatsapp_resume"; null when nothing said it (the seed, before any import).
    consent_source: Mapped[str | None] = mapped_column(String(16))
    # Shopify's SMS marketing consent: counts only where the shop chose so in Settings.
    sms_consent: Mapped[str | None] = mapped_column(String(16))
    sms_consent_updated_at: Mapped[datetime | None]
    # A stop Meta reported that Shopify does not know yet (core/shopify/consent_writeback.py);
    # when Shopify refused to take it, its words, and when it is tried again.
    consent_writeback_at: Mapped[datetime | None]
    consent_writeback_refused: Mapped[str | None] = mapped_column(Text)
    consent_writeback_retry_at: Mapped[datetime | None]
    shopify_updated_at: Mapped[datetime | None]  # to drop stale webhooks
    created_at: Mapped[datetime] = created_at_column()

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()
