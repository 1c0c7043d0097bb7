from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKeyConstraint, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from core.models.base import Base


class CampaignBilledCount(Base):
    """How many of a campaign's messages Meta bills, per UTC day they were sent (``day``: the rate
    card in force that day prices them), calling code of the number sent to (``prefix``, '' once
    erased) and Meta's pricing category ('' until Meta said one), and per variant of an A/B campaign
    (``variant_id``, 0 without variants): what the campaign's cost, and each variant's, is priced
    from, kept like the counters (core/counts/billed.py)."""

    __tablename__ = "campaign_billed_counts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["shop_id", "campaign_id"], ["campaigns.shop_id", "campaigns.id"], ondelete="CASCADE"
        ),
    )

    shop_id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(primary_key=True)
    variant_id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, server_default="0")
    day: Mapped[date] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(3), primary_key=True)
    pricing_category: Mapped[str] = mapped_column(String(32), primary_key=True)
    messages: Mapped[int]
