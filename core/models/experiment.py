from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class CampaignHoldout(Base):
    """A customer a campaign kept unsent on purpose (``campaigns.holdout_share``): the baseline
    its incremental orders and revenue are measured against (core/experiments/holdout.py).
    Written once, when the audience is materialised, beside the messages of the others."""

    __tablename__ = "campaign_holdouts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "campaign_id"], ["campaigns.shop_id", "campaigns.id"], ondelete="CASCADE"
        ),
    )

    shop_id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(primary_key=True)


class CampaignVariantCount(Base):
    """The funnel of one variant of an A/B campaign: its messages, and of them how many were
    sent, delivered, read, failed and clicked, as the campaign's counters count its own; kept by
    every writer in the transaction that moves the messages (core/counts/variants.py)."""

    __tablename__ = "campaign_variant_counts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "campaign_id"], ["campaigns.shop_id", "campaigns.id"], ondelete="CASCADE"
        ),
    )

    shop_id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    messages: Mapped[int]
    sent: Mapped[int]
    delivered: Mapped[int]
    read: Mapped[int]
    failed: Mapped[int]
    clicked: Mapped[int]
