"""What the stand-in bills, and its answer to the WABA's ``pricing_analytics`` field.

Meta bills per delivered template message (per-message pricing since 2025-07-01), priced by the
recipient's country and the message's pricing category; a message Meta prices free
(``free_customer_service``, ``free_entry_point``) counts in volume at no cost. The stand-in
keeps one ledger entry per delivered message, at the time of its first ``delivered`` (or
``read``) status, and answers

    GET /{version}/{waba-id}?fields=pricing_analytics.start(<unix>).end(<unix>)
        .granularity(HALF_HOUR|DAILY|MONTHLY).dimensions([...]).phone_numbers([...])
        .country_codes([...]).metric_types([...]).pricing_types([...]).pricing_categories([...])

from it, in the shape of Meta's analytics page (docs/meta-billing.md): ``{"pricing_analytics":
{"data": [{"data_points": [{start, end, country?, phone_number?, pricing_category?,
pricing_type?, tier?, volume, cost}]}]}, "id": <waba-id>}``, buckets in UTC.

Prices come from the published rate cards the app ships (core/outcomes/data/rates/, one per
effective date; USD, the only currency shipped), read here as data: the stand-in is Meta, and
Meta's prices are its published cards. ``rate`` is the one place that reads them.
Two controls make Meta bill what the app does not expect, so a
test can show drift: a surcharge per message to a country, and messages billed that the app
never sent (another app, or the WhatsApp Business app, on the same number).
"""

from __future__ import annotations

import calendar
import json
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import phonenumbers

RATES_DIR = Path(__file__).resolve().parents[2] / "core" / "outcomes" / "data" / "rates"
GRANULARITIES = {"HALF_HOUR", "DAILY", "MONTHLY"}
DIMENSIONS = {
    "COUNTRY": "country",
    "PHONE": "phone_number",
    "PRICING_CATEGORY": "pricing_category",
    "PRICING_TYPE": "pricing_type",
    "TIER": "tier",
}
METRICS = {"COST": "cost", "VOLUME": "volume"}
LIST_FILTERS = ("phone_numbers", "country_codes", "metric_types", "pricing_types", "pricing_categories")
# Meta's lookback for pricing analytics: one year since 2025-12-01 (docs/meta-billing.md).
LOOKBACK_S = 366 * 86400
# Categories that bill like one of the card's columns; the rest (service, ...) are not on the card.
_BILLED_AS = {
    "marketing_lite": "marketing",
    "authentication_international": "authentication",
    "authentication-international": "authentication",
}
# The tier Meta reports for a message billed at list price ("from:to" messages this month).
LIST_PRICE_TIER = "0:MAX"
_CALL = re.compile(r"\.?([a-z_]+)\(([^()]*)\)")


@lru_cache(maxsize=1)
def _cards() -> list[tuple[date, dict[str, dict[str, Decimal | None]]]]:
    """Meta's USD cards, oldest first: (effective day, ISO country or "*" -> category -> price)."""
    cards = []
    for path in sorted(RATES_DIR.glob("*_USD.json")):
        data = json.loads(path.read_text())
        rates: dict[str, dict[str, Decimal | None]] = {}
        for market in data["markets"]:
            row = {c: _price(market.get(c)) for c in ("marketing", "utility", "authentication")}
            for country in market["countries"]:
                rates[country] = row
            if market["market"] == "Other":
                rates["*"] = row
        cards.append((date.fromisoformat(data["effective"]), rates))
    return cards


def _price(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def rate(country: str, category: str, day: date) -> Decimal | None:
    """Meta's list price of one delivered message of ``category`` to ``country`` on ``day``: the
    card in force that day (the first card before it). None: a category the card does not
    price, or a market whose figure the shipped card does not hold (billed at no cost here)."""
    category = _BILLED_AS.get(category, category)
    cards = _cards()
    card = next((rates for effective, rates in reversed(cards) if effective <= day), cards[0][1])
    return (card.get(country) or card["*"]).get(category)


@lru_cache(maxsize=65536)
def country_of(to: str) -> str:
    """The ISO country Meta bills a number as: its region, or its calling code's main one."""
    try:
        number = phonenumbers.parse(to)
    except phonenumbers.NumberParseException:
        return "ZZ"
    return (
        phonenumbers.region_code_for_number(number)
        or phonenumbers.region_code_for_country_code(number.country_code)
        or "ZZ"
    )


@dataclass(frozen=True, slots=True)  # one per delivered message: a benchmark delivers many
class Billed:
    """One delivered message as Meta's billing holds it."""

    at: int  # Unix seconds of its first delivered (or read) status
    waba_id: str
    phone_number: str  # the business number's digits, as the PHONE dimension names it
    country: str
    category: str  # lower case, as the status webhook's pricing.category
    pricing_type: str  # lower case: regular, free_customer_service, free_entry_point
    cost: Decimal

    @property
    def tier(self) -> str | None:
        return LIST_PRICE_TIER if self.pricing_type == "regular" else None


class BadFieldSpec(ValueError):
    """A ``pricing_analytics`` field Meta would refuse (code 100)."""


@dataclass(frozen=True)
class Query:
    start: int
    end: int
    granularity: str
    dimensions: tuple[str, ...]
    filters: dict[str, frozenset[str]]


def parse_field(spec: str, now: float) -> Query:
    """Read ``pricing_analytics.start(..).end(..)...`` (the part after the field's name)."""
    calls = {name: args for name, args in _CALL.findall(spec)}
    if _CALL.sub("", spec).strip(". "):
        raise BadFieldSpec(f"cannot read the field modifiers {spec!r}")
    try:
        start, end = int(calls["start"]), int(calls["end"])
    except (KeyError, ValueError):
        raise BadFieldSpec("start and end are required Unix timestamps") from None
    granularity = calls.get("granularity", "").strip().upper()
    if granularity not in GRANULARITIES:
        raise BadFieldSpec("granularity must be one of HALF_HOUR, DAILY, MONTHLY")
    if end <= start:
        raise BadFieldSpec("end must be after start")
    if start < now - LOOKBACK_S:
        raise BadFieldSpec("start is further back than pricing analytics keep")
    dimensions = tuple(_list(calls.get("dimensions", "")))
    if unknown := set(dimensions) - set(DIMENSIONS):
        raise BadFieldSpec(f"unknown dimensions {sorted(unknown)}")
    filters = {name: frozenset(_list(calls[name])) for name in LIST_FILTERS if _list(calls.get(name, ""))}
    if unknown := filters.get("metric_types", frozenset()) - set(METRICS):
        raise BadFieldSpec(f"unknown metric_types {sorted(unknown)}")
    return Query(start, end, granularity, dimensions, filters)


def _list(args: str) -> list[str]:
    """``["A","B"]``, ``[A,B]`` or ``A,B``: Graph accepts each for a list modifier."""
    text = args.strip()
    if text.startswith("["):
        if not text.endswith("]"):
            raise BadFieldSpec(f"unclosed list {args!r}")
        text = text[1:-1]
    return [item.strip().strip("'\"").upper() for item in text.split(",") if item.strip().strip("'\"")]


def _bucket(at: int, granularity: str) -> tuple[int, int]:
    if granularity == "HALF_HOUR":
        start = at - at % 1800
        return start, start + 1800
    if granularity == "DAILY":
        start = at - at % 86400
        return start, start + 86400
    moment = datetime.fromtimestamp(at, UTC)
    first = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    days = calendar.monthrange(moment.year, moment.month)[1]
    return int(first.timestamp()), int(first.timestamp()) + days * 86400


def _wanted(entry: Billed, query: Query) -> bool:
    f = query.filters
    return (
        query.start <= entry.at < query.end
        and ("phone_numbers" not in f or entry.phone_number in f["phone_numbers"])
        and ("country_codes" not in f or entry.country in f["country_codes"])
        and ("pricing_types" not in f or entry.pricing_type.upper() in f["pricing_types"])
        and ("pricing_categories" not in f or entry.category.upper() in f["pricing_categories"])
    )


def _dimension(entry: Billed, name: str) -> str | None:
    value = {
        "COUNTRY": entry.country,
        "PHONE": entry.phone_number,
        "PRICING_CATEGORY": entry.category.upper(),
        "PRICING_TYPE": entry.pricing_type.upper(),
        "TIER": entry.tier,
    }[name]
    return value


def data_points(entries: list[Billed], query: Query) -> list[dict]:
    """The answer's data points: volume and cost per bucket and asked dimension."""
    sums: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])
    for entry in entries:
        if _wanted(entry, query):
            key = (
                _bucket(entry.at, query.granularity),
                tuple(_dimension(entry, d) for d in query.dimensions),
            )
            sums[key][0] += 1
            sums[key][1] += entry.cost
    metrics = query.filters.get("metric_types") or frozenset(METRICS)
    points = []
    for ((start, end), values), (volume, cost) in sorted(sums.items(), key=lambda item: str(item[0])):
        point: dict = {"start": start, "end": end}
        point |= {DIMENSIONS[d]: v for d, v in zip(query.dimensions, values, strict=True) if v is not None}
        if "VOLUME" in metrics:
            point["volume"] = volume
        if "COST" in metrics:
            point["cost"] = float(cost)
        points.append(point)
    return points


class Ledger:
    """Every message the stand-in billed, and the two controls that make it bill otherwise."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: list[Billed] = []
        self.surcharges: dict[str, Decimal] = {}  # country -> extra per billed message

    def bill(
        self, *, at: int, waba_id: str, phone_number: str, to: str, category: str, pricing_type: str
    ) -> None:
        """Bill one delivered message (free pricing types: volume at no cost)."""
        country = country_of(to)
        cost = Decimal(0)
        if pricing_type == "regular":
            day = datetime.fromtimestamp(at, UTC).date()
            cost = (rate(country, category, day) or Decimal(0)) + self.surcharges.get(country, Decimal(0))
        entry = Billed(at, waba_id, phone_number, country, category, pricing_type, cost)
        with self.lock:
            self.entries.append(entry)

    def set_surcharges(self, surcharges: dict) -> None:
        with self.lock:
            self.surcharges = {str(c).upper(): Decimal(str(v)) for c, v in surcharges.items()}

    def answer(self, waba_id: str, query: Query, with_cost: bool) -> dict:
        """The ``pricing_analytics`` value for the WABA. ``with_cost`` False: the account is
        paid through a partner's credit line, and Meta leaves cost out."""
        with self.lock:
            mine = [e for e in self.entries if e.waba_id == waba_id]
        points = data_points(mine, query)
        if not with_cost:
            for point in points:
                point.pop("cost", None)
        return {"data": [{"data_points": points}]}

    def summary(self) -> dict:
        """What tests read at ``GET /sim/billing``: every entry, and the surcharges."""
        with self.lock:
            rows = [
                {
                    "at": e.at,
                    "waba_id": e.waba_id,
                    "country": e.country,
                    "category": e.category,
                    "pricing_type": e.pricing_type,
                    "cost": str(e.cost),
                }
                for e in self.entries
            ]
            return {"billed": rows, "surcharges": {c: str(v) for c, v in self.surcharges.items()}}
