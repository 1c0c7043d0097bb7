"""The campaign page's outcomes: orders, revenue, cost, the days after sending, and the
campaigns it is linked to by "Send again"."""

from __future__ import annotations

from sqlalchemy import select

from core.models import Campaign
from core.reports.outcomes import campaign_outcomes, days_after_sending, left_out_sentence
from web.charts import DAY_CHART_H, DAY_CHART_W, DAY_PAD, day_bars
from web.database import db


def linked_campaigns(campaign: Campaign) -> dict:
    """The campaign this one sends again to (if any), and those that send this one's again."""
    session = db()
    original = (
        session.get(Campaign, (campaign.shop_id, campaign.follow_up_of)) if campaign.follow_up_of else None
    )
    follow_ups = session.scalars(
        select(Campaign)
        .where(Campaign.shop_id == campaign.shop_id, Campaign.follow_up_of == campaign.id)
        .order_by(Campaign.id)
    ).all()
    return {"original": original, "follow_ups": follow_ups}


def outcome_context(shop, campaign: Campaign) -> dict:
    session = db()
    outcome = campaign_outcomes(session, shop, [campaign])[campaign.id]
    return {
        "outcome": outcome,
        "left_out": left_out_sentence(outcome["orders_left_out"]),
        "day_bars": day_bars(days_after_sending(session, shop, campaign)),
        "day_chart": {"width": DAY_CHART_W, "height": DAY_CHART_H, "pad": DAY_PAD},
        **linked_campaigns(campaign),
    }
