"""What the Shopify webhooks and compliance requests leave behind, besides customers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at_column


class CustomerTombstone(Base):
    """A customer deleted or redacted in Shopify. Shopify never reuses a customer id and
    delivers webhooks late and out of order, so an update or a sync page that still carries
    this customer is stale by definition: the tombstone keeps it from coming back."""

    __tablename__ = "customer_tombstones"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    shopify_customer_id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(16))  # "deleted" or "redacted"
    removed_at: Mapped[datetime] = created_at_column()
    # After a deletion, SHA-256 of the customer's phone digits (core/shopify/erasure.py): the messages
    # the deletion detached are still found by a later redaction, which clears these.
    phone_digests: Mapped[list[bytes] | None] = mapped_column(ARRAY(LargeBinary))


class ShopifyWebhookDelivery(Base):
    """One applied Shopify delivery, by ``X-Shopify-Webhook-Id``: a redelivery (Shopify retries
    for hours, at least once) is recognised and changes nothing. ``X-Shopify-Event-Id``, which
    Shopify gives every delivery of one event, is kept per topic too: a second delivery of the
    same event under another webhook id is recognised as well."""

    __tablename__ = "shopify_webhook_deliveries"
    __table_args__ = (
        Index(None, "applied_at"),  # the retention sweep
        UniqueConstraint("shop_id", "topic", "event_id"),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    topic: Mapped[str] = mapped_column(String(128))
    event_id: Mapped[str | None] = mapped_column(String(255))
    applied_at: Mapped[datetime] = created_at_column()


class CustomerDataRequest(Base):
    """A ``customers/data_request``: the merchant must give the customer what we hold about
    them. ``held`` is that data as it was when the request arrived (emptied on redaction)."""

    __tablename__ = "customer_data_requests"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    shopify_customer_id: Mapped[int]
    data_request_id: Mapped[int | None]
    orders_requested: Mapped[list] = mapped_column(JSONB, server_default="[]")
    held: Mapped[dict | None] = mapped_column(JSONB)
    received_at: Mapped[datetime] = created_at_column()
    fulfilled_at: Mapped[datetime | None]  # the merchant marked it done on the Settings page
