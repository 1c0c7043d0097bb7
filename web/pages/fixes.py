"""The fix loop's page (core/campaigns/fix_loop.py): preview every fixable phone failure with its
suggested number, confirm "Fix all", watch each row's outcome, then "Send again"."""

from __future__ import annotations

from flask import render_template

from core.campaigns.fix_loop import fix_candidates, fix_progress, fixed_customers
from core.rules.phones import is_us_area_code
from web.database import db
from web.pages import blueprint, embedded_page
from web.pages.campaigns import labels, shop_campaign
from web.pages.outcomes import linked_campaigns


def _us_marketing(campaign, candidates) -> set[int]:
    """The customers whose suggested number is a United States one while the campaign's template
    is marketing: fixing their number is right, but sending this campaign again to them fails
    (131049), and the page says so beside the suggestion."""
    if (campaign.template_category or "").upper() != "MARKETING":
        return set()
    return {
        c.shopify_customer_id
        for c in candidates
        if c.suggested_phone
        and c.suggested_phone.startswith("+1")
        and is_us_area_code(c.suggested_phone[2:5])
    }


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
        us_marketing=_us_marketing(campaign, candidates),
        progress=progress,
        fixed_customers=len(fixed_customers(session, shop.id, campaign.id)),
        working=progress["pending"] > 0,
        **linked_campaigns(campaign),
        **labels(),
    )
