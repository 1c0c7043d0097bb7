"""The trends page: delivery and read rates over time by campaign type, like for like."""

from __future__ import annotations

from datetime import datetime

from flask import render_template, request

from core.reports.outcomes import campaign_money, grouped_outcomes, outcome_series
from core.reports.trends import (
    campaigns_in_period,
    period_summary,
    rate_series,
    settled_in_period,
    type_medians,
)
from core.rules.campaign_states import CampaignType
from web.charts import line_chart, y_of
from web.database import db
from web.formatting import shop_zone
from web.pages import blueprint, embedded_page
from web.pages.campaigns import labels
from web.paging import decode_cursor, encode_cursor
from web.reports import cached_billing, previous_period, trend_period

PRESETS = (30, 90, 365)
CAMPAIGNS_PER_PAGE = 50


def _after(cursor: str | None) -> tuple[datetime, int] | None:
    return decode_cursor(cursor, (datetime, int))


@blueprint.get("/trends")
@embedded_page
def trends_page(shop):
    zone = shop_zone(shop.timezone)
    today = datetime.now(zone).date()
    start, end = trend_period(request.args, today)
    prev = previous_period(start, end)
    series = rate_series(db(), shop.id, zone, start, end)
    money = campaign_money(db(), shop, settled_in_period(db(), shop.id, zone, start, end))
    rows = campaigns_in_period(
        db(),
        shop.id,
        zone,
        start,
        end,
        limit=CAMPAIGNS_PER_PAGE + 1,
        after=_after(request.args.get("cursor")),
    )
    more, rows = len(rows) > CAMPAIGNS_PER_PAGE, rows[:CAMPAIGNS_PER_PAGE]
    return render_template(
        "trends.html",
        shop=shop,
        start=start,
        end=end,
        today=today,
        presets=PRESETS,
        previous=prev,
        series=series,
        charts={r: line_chart(series["points"], r, start, end) for r in ("delivery_rate", "read_rate")},
        gridlines=[(rate, y_of(rate)) for rate in (0, 0.25, 0.5, 0.75, 1)],
        current=period_summary(db(), shop.id, zone, start, end),
        before=period_summary(db(), shop.id, zone, *prev),
        medians=type_medians(db(), shop.id),
        outcomes=grouped_outcomes(shop, money, lambda c: c.type),
        money_series=outcome_series(shop, money, zone, weekly=series["bucket"] == "week"),
        rows=rows,
        meta_billing=cached_billing(shop.id, start, end),
        next_cursor=encode_cursor(rows[-1].sent_on.isoformat(), rows[-1][0].id) if more else None,
        types=[t.value for t in CampaignType],
        **labels(),
    )
