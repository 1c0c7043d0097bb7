from __future__ import annotations

from datetime import datetime

from sqlalchemy import Identity, Index, LargeBinary, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base, created_at_column


class InboxEvent(Base):
    """A signed webhook body exactly as received, stored before it is acknowledged.

    Not shop-owned: the shop is known only once the drain has parsed the body. The digest
    (SHA-256 of the raw bytes) is unique per source, so an identical redelivery is one row; rows
    stay for good after their body is dropped, so a body replayed any time later is one too.
    """

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("source", "digest"),
        # The drain's queue: only unprocessed rows are in this index, so it stays small.
        Index("ix_inbox_events_unprocessed", "id", postgresql_where="processed_at IS NULL"),
        # The Shopify drain's queue (processed_at IS NULL, by id) and its retention sweep
        # (processed_at < cutoff), apart from Meta's much larger backlog (migration 0005_shopify).
        Index("ix_inbox_events_shopify", "processed_at", "id", postgresql_where="source = 'shopify'"),
        # Applied Meta bodies not yet emptied by the retention sweep (migration 0009_trust).
        Index(
            "ix_inbox_events_meta_bodies",
            "processed_at",
            postgresql_where="source = 'meta' AND octet_length(body) > 0",
        ),
        # Applied Shopify bodies not yet emptied: their rows stay for good (migration 0015).
        Index(
            "ix_inbox_events_shopify_bodies",
            "processed_at",
            postgresql_where="source = 'shopify' AND octet_length(body) > 0",
        ),
        # Events set aside as failed, for an operator (`flask --app web inbox failed`).
        Index("ix_inbox_events_failed", "id", postgresql_where="outcome = 'failed'"),
        # Every body not yet emptied, in arrival order: an erasure walks these in chunks by id
        # (core/shopify/erasure.py), never the emptied history (migration 0016_privacy_jobs).
        Index("ix_inbox_events_bodies", "id", postgresql_where="octet_length(body) > 0"),
    )

    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))  # "meta" or "shopify"
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    topic: Mapped[str | None] = mapped_column(String(128))  # Shopify's X-Shopify-Topic
    headers: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    body: Mapped[bytes] = mapped_column(LargeBinary)
    received_at: Mapped[datetime] = created_at_column()
    processed_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(SmallInteger, server_default="0")
    outcome: Mapped[str | None] = mapped_column(String(32))  # "applied", "not_json", ...
    last_error: Mapped[str | None] = mapped_column(Text)
    # Shopify's drain: not tried again before this time (later after each failed attempt).
    retry_at: Mapped[datetime | None]


class ParkedStatus(Base):
    """A status for a wamid we have not recorded yet (the webhook beat the send response).
    Applied, with the same ratchet, as soon as the wamid is stored."""

    __tablename__ = "parked_statuses"
    __table_args__ = (
        Index(None, "shop_id", "wamid"),
        # The sweeper looks at recent parks only, and expires old ones: both by time.
        Index(None, "parked_at"),
    )

    shop_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    wamid: Mapped[str] = mapped_column(String(255))
    status: Mapped[dict] = mapped_column(JSONB)  # the status object as Meta sent it
    parked_at: Mapped[datetime] = created_at_column()
