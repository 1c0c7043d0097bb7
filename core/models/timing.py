from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class CampaignTimingBucket(Base):
    """How many of a campaign's messages took a time within one fine bucket to be delivered
    (``kind`` "deliver") or read ("read"), and the sum of those times: the distributions the
    campaign page shows, kept by the drain in the transaction that moves the messages, like the
    counters (core/counts/timings.py), so the page reads them in time independent of the campaign."""

    __tablename__ = "campaign_timing_buckets"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "campaign_id"], ["campaigns.shop_id", "campaigns.id"], ondelete="CASCADE"
        ),
    )

    shop_id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    messages: Mapped[int]
    milliseconds: Mapped[int]  # the sum of the bucket's times: its mean stands for its messages
