"""Campaign endpoints: the list (keyset-paged) and one campaign with its report."""

from __future__ import annotations

from datetime import datetime

from flask import abort, jsonify, request
from sqlalchemy import select, tuple_
from werkzeug.exceptions import BadRequest

from core.campaigns import CampaignStatus, CampaignType
from core.dispatch.progress import progress
from core.models import Campaign
from core.reports import campaign_report, failures_by_code
from web.api import blueprint
from web.api.paging import decode_cursor, encode_cursor, page_limit
from web.database import db
from web.tenancy import current_shop


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def campaign_json(campaign: Campaign, errors: list[dict]) -> dict:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "type": campaign.type,
        "status": campaign.status,
        "estimated_audience": campaign.estimated_audience,
        "template": {
            "name": campaign.template_name,
            "language": campaign.template_language,
            "category": campaign.template_category,
        },
        "created_at": _iso(campaign.created_at),
        "scheduled_at": _iso(campaign.scheduled_at),
        "launched_at": _iso(campaign.launched_at),
        "dispatch_finished_at": _iso(campaign.dispatch_finished_at),
        "completed_at": _iso(campaign.completed_at),
        "halted_reason": campaign.halted_reason,
        "progress": progress(campaign),
        **campaign_report(campaign, errors),
    }


def _enum_filter(name: str, allowed: type) -> str | None:
    value = request.args.get(name) or None
    if value is not None and value not in allowed.__members__:
        raise BadRequest(f"{name} must be one of {', '.join(allowed.__members__)}")
    return value


@blueprint.get("/campaigns")
def list_campaigns():
    shop = current_shop()
    limit = page_limit(request.args.get("limit"))
    query = select(Campaign).where(Campaign.shop_id == shop.id)
    if status := _enum_filter("status", CampaignStatus):
        query = query.where(Campaign.status == status)
    if kind := _enum_filter("type", CampaignType):
        query = query.where(Campaign.type == kind)
    if key := decode_cursor(request.args.get("cursor")):
        try:
            after = (datetime.fromisoformat(key[0]), int(key[1]))
        except (ValueError, IndexError, TypeError):
            raise BadRequest("cursor is not one this API gave out") from None
        query = query.where(tuple_(Campaign.created_at, Campaign.id) < after)
    query = query.order_by(Campaign.created_at.desc(), Campaign.id.desc()).limit(limit + 1)
    campaigns = list(db().scalars(query))
    page, more = campaigns[:limit], len(campaigns) > limit
    errors = failures_by_code(db(), shop.id, [c.id for c in page])
    return jsonify(
        campaigns=[campaign_json(c, errors.get(c.id, [])) for c in page],
        next_cursor=encode_cursor(page[-1].created_at.isoformat(), page[-1].id) if more else None,
    )


def campaign_of_shop(campaign_id: int) -> Campaign:
    """The shop's campaign, or 404: another shop's campaign does not exist for this request."""
    campaign = db().get(Campaign, (current_shop().id, campaign_id))
    if campaign is None:
        abort(404, description="No such campaign in this shop.")
    return campaign


@blueprint.get("/campaigns/<int:campaign_id>")
def show_campaign(campaign_id: int):
    campaign = campaign_of_shop(campaign_id)
    errors = failures_by_code(db(), campaign.shop_id, [campaign.id])
    return jsonify(campaign_json(campaign, errors.get(campaign.id, [])))
