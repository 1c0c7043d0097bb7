from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Computed,
    ForeignKeyConstraint,
    Identity,
    Index,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at_column
from core.rules.statuses import rank_sql


class Message(Base):
    """One template message to one customer in one campaign.

    ``status_rank`` is derived by PostgreSQL from ``status`` (core/rules/statuses.py), so the ratchet
    ``UPDATE ... WHERE status_rank < :new_rank`` can never disagree with the status it guards.
    Stage times are first-seen times, each set once, from Meta's own timestamps.
    """

    __tablename__ = "messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "campaign_id"], ["campaigns.shop_id", "campaigns.id"], ondelete="CASCADE"
        ),
        # No ON DELETE SET NULL: Citus refuses it on a key holding the distribution column, so
        # removing customers empties their messages' customer_id first (core/shopify/customers.py).
        ForeignKeyConstraint(["shop_id", "customer_id"], ["customers.shop_id", "customers.id"]),
        UniqueConstraint("shop_id", "wamid"),
        # One message per recipient per campaign: dispatch retries cannot double-send.
        UniqueConstraint("shop_id", "campaign_id", "customer_id"),
        Index(None, "shop_id", "campaign_id", "status", "id"),
        # A customer's messages, newest first (the customer-page block; migration 0011_block), and
        # the messages that reached a customer before an order (attribution).
        Index("ix_messages_customer", "shop_id", "customer_id", "id"),
        Index(None, "shop_id", "campaign_id", "error_code", "id", postgresql_where="error_code IS NOT NULL"),
        # Dispatch's queue: only messages still waiting to be handed to Meta are in it.
        Index(
            "ix_messages_dispatch_queue",
            "shop_id",
            "campaign_id",
            "id",
            postgresql_where="status = 'queued' AND submitted_at IS NULL",
        ),
        # Sends whose outcome we do not know yet (in flight, or a timeout after the request left).
        Index(
            "ix_messages_unconfirmed",
            "shop_id",
            "campaign_id",
            "submitted_at",
            postgresql_where="status = 'queued' AND submitted_at IS NOT NULL AND wamid IS NULL",
        ),
        # A consent stop that names the customer by business-scoped user id only (0008_components_b).
        Index(
            "ix_messages_recipient_user_id",
            "shop_id",
            "recipient_user_id",
            postgresql_where="recipient_user_id IS NOT NULL",
        ),
        # The customers whose message failed for a missing calling code, for the page's count of
        # those fixed since (migration 0013_failure_counts; the breakdown itself is kept:
        # core/counts/failures.py).
        Index(
            "ix_messages_calling_code",
            "shop_id",
            "campaign_id",
            "customer_id",
            postgresql_where="error_code = 'CUSTOMER_IS_MISSING_CALLING_CODE' AND status = 'failed'",
        ),
        # A campaign's latest failures, newest first: the circuit breaker reads the last few on
        # every batch that carries a counted code (core/meta_webhooks/halt.py), without sorting
        # all of a large campaign's failures (migration 0030_recent_failures).
        Index(
            "ix_messages_recent_failures",
            "shop_id",
            "campaign_id",
            text("failed_at DESC NULLS LAST"),
            text("id DESC"),
            postgresql_where="error_code IS NOT NULL AND status IN ('failed', 'expired')",
        ),
        # The failure breakdown by code, index-only (migration 0004_pages).
        Index(
            "ix_messages_failures",
            "shop_id",
            "campaign_id",
            "error_code",
            postgresql_include=["wamid"],
            postgresql_where="status IN ('failed', 'expired')",
        ),
    )

    shop_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    campaign_id: Mapped[int]
    customer_id: Mapped[int | None]
    variant_id: Mapped[int | None] = mapped_column(SmallInteger)  # the campaign's variant it sent, if any
    phone: Mapped[str | None] = mapped_column(String(64))  # the number we sent to, as it was
    # The customer's address country when we tried: it suggests the fix for a missing calling code.
    country_code: Mapped[str | None] = mapped_column(String(2))
    wa_id: Mapped[str | None] = mapped_column(String(32))  # Meta's normalised number for ``phone``
    wamid: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), server_default="queued")
    status_rank: Mapped[int] = mapped_column(SmallInteger, Computed(rank_sql(), persisted=True))
    created_at: Mapped[datetime] = created_at_column()
    accepted_at: Mapped[datetime | None]
    held_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    failed_at: Mapped[datetime | None]
    expired_at: Mapped[datetime | None]
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_category: Mapped[str | None] = mapped_column(String(16))
    error_title: Mapped[str | None] = mapped_column(Text)
    error_details: Mapped[str | None] = mapped_column(Text)
    error_href: Mapped[str | None] = mapped_column(Text)
    error_source: Mapped[str | None] = mapped_column(String(8))  # "ours" or "meta"
    pricing_category: Mapped[str | None] = mapped_column(String(32))
    pricing_type: Mapped[str | None] = mapped_column(String(32))
    pricing_billable: Mapped[bool | None]
    conversation_id: Mapped[str | None] = mapped_column(String(255))
    conversation_origin: Mapped[str | None] = mapped_column(String(32))
    recipient_user_id: Mapped[str | None] = mapped_column(String(160))  # Meta's BSUID
    send_attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    # Set when the request is handed to Meta, cleared only when Meta certainly did not take it
    # (a retryable error): a message with it set and no wamid is never sent again blindly.
    submitted_at: Mapped[datetime | None]
    retry_at: Mapped[datetime | None]  # a retryable error's backoff: not sent again before this
