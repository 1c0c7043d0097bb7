from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class CampaignFailureCount(Base):
    """How many of a campaign's messages are failed or expired under one error code, accepted by
    Meta (they have a wamid) or not: the failure breakdown the campaign page shows, kept by every
    writer in the transaction that moves the messages, like the counters (core/counts/failures.py)."""

    __tablename__ = "campaign_failure_counts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "campaign_id"], ["campaigns.shop_id", "campaigns.id"], ondelete="CASCADE"
        ),
    )

    shop_id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    accepted: Mapped[bool] = mapped_column(primary_key=True)
    messages: Mapped[int]
