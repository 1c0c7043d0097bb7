"""Campaign endpoints: the list (keyset-paged) and one campaign with its report."""

from __future__ import annotations

from flask import Response, abort, jsonify, request

from core.models import Campaign
from web.api import blueprint
from web.database import db
from web.listings import campaigns_page
from web.reports import cached_failures, cached_outcomes, campaign_detail, campaign_json
from web.tenancy import current_shop


@blueprint.get("/campaigns")
def list_campaigns():
    shop = current_shop()
    page, next_cursor = campaigns_page(shop, request.args)
    errors = cached_failures(shop.id, page)
    outcomes = cached_outcomes(page)
    return jsonify(
        campaigns=[campaign_json(c, errors.get(c.id, []), outcomes[c.id]) for c in page],
        next_cursor=next_cursor,
    )


def campaign_of_shop(campaign_id: int) -> Campaign:
    """The shop's campaign, or 404: another shop's campaign does not exist for this request."""
    campaign = db().get(Campaign, (current_shop().id, campaign_id))
    if campaign is None:
        abort(404, description="No such campaign in this shop.")
    return campaign


@blueprint.get("/campaigns/<id:campaign_id>")
def show_campaign(campaign_id: int):
    return conditional(jsonify(campaign_detail(campaign_of_shop(campaign_id))))


def conditional(response: Response) -> Response:
    """ETag the answer so a page polling it every few seconds gets an empty 304 while nothing
    changed. The tag hashes the whole body, so any change at all, counters or breakdown, shows."""
    response.add_etag()
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)
