"""The fix loop's page (core/campaigns/fix_loop.py): preview every fixable phone failure with its
suggested number, confirm "Fix all", watch each row's outcome, then "Send again"."""

from __future__ import annotations

from flask import render_template

from core.campaigns.fix_loop import fix_candidates, fix_progress, fixed_customers
from web.database import db
from web.pages import blueprint, embedded_page
from web.pages.campaigns import labels, shop_campaign
from web.pages.outcomes import linked_campaigns


@blueprint.get("/campaigns/<id:campaign_id>/fixes")
@embedded_page
def fixes_page(shop, campaign_id: int):
    campaign = shop_campaign(shop, campaign_id)
    session = db()
    candidates = fix_candidates(session, shop.id, campaign.id)
    progress = fix_progress(session, shop.id, campaign.id)
    return render_template(
        "fixes.html",
        shop=shop,
        campaign=campaign,
        candidates=candidates,
        fixable=[c for c in candidates if c.suggested_phone],
        progress=progress,
        fixed_customers=len(fixed_customers(session, shop.id, campaign.id)),
        working=progress["pending"] > 0,
        **linked_campaigns(campaign),
        **labels(),
    )
