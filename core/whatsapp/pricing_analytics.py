"""Read what Meta billed a WhatsApp Business Account: the WABA node's ``currency`` and
``pricing_analytics`` field (docs/meta-billing.md has Meta's facts and their sources).

One request per range: ``GET /{waba-id}?fields=currency,pricing_analytics.start(..).end(..)
.granularity(DAILY).dimensions([...])``, UTC days, each data point one day, country, pricing
category, pricing type and tier with its volume and cost (in the account's currency; absent
when a partner's credit line pays). Failures are graph.py's: ``GraphRefused`` (Meta answered
with an error: a token, a permission, a rate limit) and ``GraphUnreachable``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from core.whatsapp.graph import GraphRefused, _call
from core.whatsapp.graph_api import graph_url, on_graph_host

DIMENSIONS = ("COUNTRY", "PRICING_CATEGORY", "PRICING_TYPE", "TIER")
MAX_PAGES = 20


@dataclass(frozen=True)
class BilledPoint:
    """One data point: what Meta billed for a day, country, category, pricing type and tier."""

    day: date
    country: str
    pricing_category: str  # lower case, as our messages hold it ("marketing")
    pricing_type: str  # lower case ("regular", "free_customer_service", ...)
    tier: str  # "" when Meta gives none (free messages)
    volume: int
    cost: Decimal | None


@dataclass(frozen=True)
class MetaBilling:
    currency: str | None
    points: list[BilledPoint]


def field_spec(first_day: date, last_day: date) -> str:
    """The ``fields`` value that asks for every day from ``first_day`` to ``last_day`` (UTC)."""
    start = int(datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC).timestamp())
    end = start + ((last_day - first_day).days + 1) * 86400
    dimensions = ",".join(f'"{d}"' for d in DIMENSIONS)
    return (
        f"currency,pricing_analytics.start({start}).end({end}).granularity(DAILY)"
        f'.dimensions([{dimensions}]).metric_types(["COST","VOLUME"])'
    )


def read_billing(waba_id: str, token: str, first_day: date, last_day: date) -> MetaBilling:
    """What Meta billed the account on each day of the range, following Meta's paging."""
    node = _call("GET", graph_url(waba_id), token, params={"fields": field_spec(first_day, last_day)})
    analytics = node.get("pricing_analytics") or {}
    points = _points(analytics)
    for _ in range(MAX_PAGES):
        url = (analytics.get("paging") or {}).get("next")
        if not url:
            break
        if not on_graph_host(str(url)):
            raise GraphRefused(None, "Meta's pricing analytics pointed its next page at another host.", 200)
        analytics = _call("GET", str(url), token)
        points += _points(analytics)
    return MetaBilling(node.get("currency"), [p for p in points if first_day <= p.day <= last_day])


def _points(analytics: dict) -> list[BilledPoint]:
    return [
        _point(raw)
        for block in analytics.get("data") or []
        if isinstance(block, dict)
        for raw in block.get("data_points") or []
        if isinstance(raw, dict) and _unix(raw.get("start")) is not None
    ]


def _unix(value: object) -> int | None:
    """A point's ``start``: Unix seconds, as a number or (some of Meta's examples) a string."""
    try:
        return int(float(str(value)))
    except (ValueError, OverflowError):
        return None


def _point(raw: dict) -> BilledPoint:
    # A DAILY point starts at its day's first second: at midnight UTC by Meta's words, at 07:00
    # UTC (Pacific midnight) in Meta's own example. Either way the bucket mostly covers the day
    # its start plus twelve hours falls on (docs/meta-billing.md).
    day = (datetime.fromtimestamp(_unix(raw["start"]) or 0, UTC) + timedelta(hours=12)).date()
    cost = raw.get("cost")
    return BilledPoint(
        day=day,
        country=str(raw.get("country") or "").upper(),
        pricing_category=str(raw.get("pricing_category") or "").lower().replace("-", "_"),
        pricing_type=str(raw.get("pricing_type") or "").lower(),
        tier=str(raw.get("tier") or ""),
        volume=int(raw.get("volume") or 0),
        cost=None if cost is None else Decimal(str(cost)),
    )
