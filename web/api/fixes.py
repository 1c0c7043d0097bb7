"""The fix loop's endpoints (core/campaigns/fix_loop.py): preview a campaign's phone fixes, fix them all
in a job and watch its progress, then draft the "send again" to the customers fixed since.

- ``GET  /api/campaigns/<id>/fixes/preview``: {"rows": [...], "fixable": n, "without_suggestion": n}
- ``POST /api/campaigns/<id>/fixes``: queue every suggested fix; 202 with the progress
- ``GET  /api/campaigns/<id>/fixes``: progress {total, pending, fixed, refused, rows}
- ``POST /api/campaigns/<id>/follow-up``: 201 with the new draft Campaign, 422 when no one is fixed
"""

from __future__ import annotations

from flask import jsonify

from core.campaigns.fix_loop import (
    NothingToSendAgain,
    fix_candidates,
    fix_progress,
    follow_up_draft,
    request_fixes,
)
from jobs.fixes import request_phone_fixes
from web.api import blueprint
from web.api.campaigns import campaign_of_shop
from web.database import db
from web.reports import cached_outcomes, campaign_json


def _candidate_json(c) -> dict:
    return {
        "customer": {"shopify_id": c.shopify_customer_id, "name": c.name, "phone": c.phone},
        "country_code": c.country_code,
        "error_code": str(c.error_code),
        "suggested_phone": c.suggested_phone,
    }


@blueprint.get("/campaigns/<id:campaign_id>/fixes/preview")
def preview_fixes(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    candidates = fix_candidates(db(), campaign.shop_id, campaign.id)
    fixable = sum(1 for c in candidates if c.suggested_phone)
    return jsonify(
        rows=[_candidate_json(c) for c in candidates],
        fixable=fixable,
        without_suggestion=len(candidates) - fixable,
    )


@blueprint.post("/campaigns/<id:campaign_id>/fixes")
def fix_all(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    session = db()
    pending = request_fixes(session, campaign.shop_id, campaign.id)
    session.commit()
    if pending:
        request_phone_fixes(campaign.shop_id, campaign.id)
    return jsonify(fix_progress(session, campaign.shop_id, campaign.id)), 202


@blueprint.get("/campaigns/<id:campaign_id>/fixes")
def fixes_progress(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    return jsonify(fix_progress(db(), campaign.shop_id, campaign.id))


@blueprint.post("/campaigns/<id:campaign_id>/follow-up")
def send_again(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    session = db()
    try:
        draft = follow_up_draft(session, campaign)
    except NothingToSendAgain as nobody:
        return jsonify(errors=[{"field": "audience", "message": str(nobody)}]), 422
    session.commit()
    return jsonify(campaign_json(draft, [], cached_outcomes([draft])[draft.id])), 201
