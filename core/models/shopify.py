"""What the Shopify webhooks and compliance requests leave behind, besides customers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Identity, Index, LargeBinary, String, UniqueConstraint, text
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
    # The privacy job finished gathering ``held`` (core/shopify/data_export.py); null while it works.
    collected_at: Mapped[datetime | None]
    fulfilled_at: Mapped[datetime | None]  # the merchant marked it done on the Settings page


class PrivacyRequest(Base):
    """A compliance request carried out by the shop's privacy job (jobs/privacy.py), a bounded
    step at a time, each step its own short transaction: ``customer`` erases a redacted
    customer's number wherever it is left, ``shop`` erases a redacted shop, ``export`` gathers
    what a data request must hand over. ``step`` and ``reached_id`` (the last key the step has
    dealt with) are written in the transaction of the work they describe, so a job that dies
    is resumed where it stopped and no chunk is done twice."""

    __tablename__ = "privacy_requests"
    __table_args__ = (
        # The periodic sweep's question (which shops have work left), over open requests only.
        Index("ix_privacy_requests_open", "shop_id", postgresql_where=text("finished_at IS NULL")),
    )

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "customer", "shop" or "export"
    shopify_customer_id: Mapped[int | None]
    data_request_id: Mapped[int | None]  # the CustomerDataRequest an export fills
    # SHA-256 of the digits of each form of the customer's number (core/rules/redaction.py): never
    # the number itself. Cleared when the request is done.
    phone_digests: Mapped[list[bytes] | None] = mapped_column(ARRAY(LargeBinary))
    # The WhatsApp numbers (Meta's phone number ids) whose webhooks route to the shop.
    phone_number_ids: Mapped[list[str] | None] = mapped_column(ARRAY(String(64)))
    step: Mapped[str] = mapped_column(String(16))
    reached_id: Mapped[int] = mapped_column(server_default=text("0"))
    requested_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None]
