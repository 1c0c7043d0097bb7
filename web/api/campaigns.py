"""Campaign endpoints: the list (keyset-paged) and one campaign with its report."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import Response, abort, jsonify, request
from sqlalchemy import select, tuple_
from werkzeug.exceptions import BadRequest
from werkzeug.http import generate_etag

from core.campaigns import CampaignStatus, CampaignType
from core.dispatch.progress import progress
from core.models import Campaign
from core.reports import campaign_report
from web.api import blueprint
from web.api.paging import decode_cursor, encode_cursor, page_limit
from web.api.report_cache import cached_calling_code, cached_failures
from web.database import db
from web.formatting import shop_zone
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


def _date_arg(args, name: str) -> date | None:
    raw = args.get(name) or None
    if raw is None:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} must be a date like 2026-11-27") from None


def created_between(shop, start: date | None, end: date | None) -> list:
    """Conditions for campaigns created on the shop's calendar days ``start``..``end``."""
    zone = shop_zone(shop.timezone)
    conditions = []
    if start:
        conditions.append(Campaign.created_at >= datetime.combine(start, time.min, zone))
    if end:
        conditions.append(Campaign.created_at < datetime.combine(end + timedelta(days=1), time.min, zone))
    return conditions


def _enum_filter(args, name: str, allowed: type) -> str | None:
    value = args.get(name) or None
    if value is not None and value not in allowed.__members__:
        raise BadRequest(f"{name} must be one of {', '.join(allowed.__members__)}")
    return value


def campaigns_page(shop, args) -> tuple[list[Campaign], str | None]:
    """One keyset page of the shop's campaigns, newest first, filtered by ``status``, ``type``
    and the creation days ``from``..``to`` (shop calendar); with the next page's cursor."""
    limit = page_limit(args.get("limit"))
    query = select(Campaign).where(Campaign.shop_id == shop.id)
    if status := _enum_filter(args, "status", CampaignStatus):
        query = query.where(Campaign.status == status)
    if kind := _enum_filter(args, "type", CampaignType):
        query = query.where(Campaign.type == kind)
    query = query.where(*created_between(shop, _date_arg(args, "from"), _date_arg(args, "to")))
    if after := decode_cursor(args.get("cursor"), (datetime, int)):
        query = query.where(tuple_(Campaign.created_at, Campaign.id) < after)
    query = query.order_by(Campaign.created_at.desc(), Campaign.id.desc()).limit(limit + 1)
    campaigns = list(db().scalars(query))
    page, more = campaigns[:limit], len(campaigns) > limit
    return page, (encode_cursor(page[-1].created_at.isoformat(), page[-1].id) if more else None)


@blueprint.get("/campaigns")
def list_campaigns():
    shop = current_shop()
    page, next_cursor = campaigns_page(shop, request.args)
    errors = cached_failures(shop.id, page)
    return jsonify(
        campaigns=[campaign_json(c, errors.get(c.id, [])) for c in page],
        next_cursor=next_cursor,
    )


def campaign_of_shop(campaign_id: int) -> Campaign:
    """The shop's campaign, or 404: another shop's campaign does not exist for this request."""
    campaign = db().get(Campaign, (current_shop().id, campaign_id))
    if campaign is None:
        abort(404, description="No such campaign in this shop.")
    return campaign


@blueprint.get("/campaigns/<int:campaign_id>")
def show_campaign(campaign_id: int):
    return conditional(jsonify(campaign_detail(campaign_of_shop(campaign_id))))


def campaign_detail(campaign: Campaign) -> dict:
    """The contract's Campaign, plus the failures' customers who lack a country code."""
    errors = cached_failures(campaign.shop_id, [campaign])
    body = campaign_json(campaign, errors.get(campaign.id, []))
    body["missing_calling_code"] = cached_calling_code(campaign)
    return body


def detail_etag(campaign: Campaign) -> str:
    """The ETag GET /api/campaigns/<id> answers now, for a page to start polling from."""
    return '"' + generate_etag(jsonify(campaign_detail(campaign)).get_data()) + '"'


def conditional(response: Response) -> Response:
    """ETag the answer so a page polling it every few seconds gets an empty 304 while nothing
    changed. The tag hashes the whole body, so any change at all, counters or breakdown, shows."""
    response.add_etag()
    response.headers["Cache-Control"] = "private, no-cache"
    return response.make_conditional(request)
