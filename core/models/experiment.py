from __future__ import annotations

from sqlalchemy import ForeignKeyConstraint
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
