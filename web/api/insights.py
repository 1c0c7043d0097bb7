"""Time-to-deliver and time-to-read distributions of a campaign, and the shop's trends."""

from __future__ import annotations

from datetime import datetime

from flask import jsonify, request

from core.reports.outcomes import campaign_money, outcome_series
from core.reports.trends import period_summary, rate_series, settled_in_period, type_medians
from web.api import blueprint
from web.api.campaigns import campaign_of_shop, conditional
from web.database import db
from web.formatting import shop_zone
from web.reports import cached_billing, cached_timings, previous_period, trend_period
from web.tenancy import current_shop


@blueprint.get("/campaigns/<id:campaign_id>/timings")
def campaign_timings(campaign_id: int):
    return conditional(jsonify(cached_timings(campaign_of_shop(campaign_id))))


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
            series=(series := rate_series(db(), shop.id, zone, start, end)),
            outcome_series=outcome_series(
                shop,
                campaign_money(db(), shop, settled_in_period(db(), shop.id, zone, start, end)),
                zone,
                weekly=series["bucket"] == "week",
            ),
            by_type=period_summary(db(), shop.id, zone, start, end),
            previous_by_type=period_summary(db(), shop.id, zone, prev_start, prev_end),
            type_medians=type_medians(db(), shop.id),
            meta_billing=cached_billing(shop.id, start, end),  # UTC days of the period
        )
    )
