from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Identity, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class Click(Base):
    """A customer acting on a campaign message: a URL button or a quick reply."""

    __tablename__ = "clicks"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "message_id"], ["messages.shop_id", "messages.id"], ondelete="CASCADE"
        ),
        # A redelivered reply webhook must not count twice: the reply's own wamid is unique.
        UniqueConstraint("shop_id", "source_id"),
        Index(None, "shop_id", "message_id"),
    )

    shop_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(Identity(), primary_key=True)
    message_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))  # "url_button" or "quick_reply"
    source_id: Mapped[str | None] = mapped_column(String(255))
    clicked_at: Mapped[datetime]
