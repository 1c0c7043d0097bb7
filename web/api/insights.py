"""Time-to-deliver and time-to-read distributions of a campaign, and the shop's trends."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

from flask import jsonify, request
from werkzeug.exceptions import BadRequest

from core.campaigns import SETTLED_STATUSES
from core.models import Campaign
from core.redis import get_redis
from core.timings import timings
from core.trends import period_summary, rate_series, type_medians
from web.api import blueprint
from web.api.campaigns import campaign_of_shop, conditional
from web.database import db
from web.formatting import shop_zone
from web.tenancy import current_shop

# A distribution is one scan of the campaign's delivered messages: cache it under the counters
# it depends on. New deliveries or reads change the key; the TTL bounds what the key cannot see
# (a late "sent" time filled in for a message already delivered).
SETTLED_TTL_S = 24 * 3600
LIVE_TTL_S = 60
DEFAULT_TREND_DAYS = 90
MAX_TREND_DAYS = 3 * 366


def cached_timings(campaign: Campaign) -> dict:
    key = (
        f"timings:v1:{campaign.shop_id}:{campaign.id}:"
        f"{campaign.sent_count}:{campaign.delivered_count}:{campaign.read_count}"
    )
    redis = get_redis()
    if (hit := redis.get(key)) is not None:
        return json.loads(hit)
    found = timings(db(), campaign.shop_id, campaign.id)
    ttl = SETTLED_TTL_S if campaign.status in SETTLED_STATUSES else LIVE_TTL_S
    redis.set(key, json.dumps(found), ex=ttl)
    return found


@blueprint.get("/campaigns/<int:campaign_id>/timings")
def campaign_timings(campaign_id: int):
    return conditional(jsonify(cached_timings(campaign_of_shop(campaign_id))))


def trend_period(args, today: date) -> tuple[date, date]:
    """``from``/``to`` as ISO dates (shop calendar days); the last 90 days by default."""
    try:
        end = date.fromisoformat(args["to"]) if args.get("to") else today
        start = (
            date.fromisoformat(args["from"]) if args.get("from") else end - timedelta(DEFAULT_TREND_DAYS - 1)
        )
    except ValueError:
        raise BadRequest("from and to must be dates like 2026-11-27") from None
    if start > end:
        raise BadRequest("from must not be after to")
    if (end - start).days >= MAX_TREND_DAYS:
        raise BadRequest(f"a trend period spans at most {MAX_TREND_DAYS} days")
    return start, end


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The same number of days just before: the like-for-like comparison."""
    days = (end - start).days + 1
    return start - timedelta(days), start - timedelta(1)


@blueprint.get("/trends")
def trends():
    shop = current_shop()
    zone = shop_zone(shop.timezone)
    start, end = trend_period(request.args, datetime.now(zone).date())
    prev_start, prev_end = previous_period(start, end)
    return conditional(
        jsonify(
            period={"from": start.isoformat(), "to": end.isoformat(), "time_zone": zone.key},
            previous_period={"from": prev_start.isoformat(), "to": prev_end.isoformat()},
            series=rate_series(db(), shop.id, zone, start, end),
            by_type=period_summary(db(), shop.id, zone, start, end),
            previous_by_type=period_summary(db(), shop.id, zone, prev_start, prev_end),
            type_medians=type_medians(db(), shop.id),
        )
    )
