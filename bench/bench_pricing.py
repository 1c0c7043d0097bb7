"""Pricing a campaign of a million billed messages across 40 markets and two price periods
(`make bench`), as the campaign page and the monitor's report price it: from the kept counts
(core/counts/billed.py), never a scan of the messages.

A fresh database holds one shop and one campaign whose kept counts say a million messages were
billed, marketing and utility, to 40 countries, half on the last day of one card and half on the
first day of the next. The cards are made up here (40 markets, both cards with utility volume
tiers, so the tiers' month-to-date read runs too) and stand in for the shipped ones meanwhile.
Each run prices the campaign through core/reports/outcomes.py's costs_by_campaign; the answer is
checked against the same prices worked out here by hand.

- ``pricing_1m_s_median`` / ``pricing_1m_s_max``: one pricing of the campaign (target: < 1 s);
- ``pricing_1m_kept_rows``: the kept rows it reads (every three-digit prefix of the 40 calling
  codes, by day and category).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path
from unittest.mock import patch

import phonenumbers
from sqlalchemy import text
from sqlalchemy.orm import Session

from bench import stack
from bench.figures import Figure, load_average

MESSAGES = 1_000_000
MARKETS = 40
RUNS = 20
DAYS = (date(2026, 3, 31), date(2026, 4, 1))  # the old card's last day, the new one's first
CARDS = ("2026-03-01", "2026-04-01")
UTILITY_BAND_FROM = 5_001  # the month's messages of a market from this one on are cheaper


def run() -> list[Figure]:
    from core.db import get_engine
    from core.models import Shop
    from core.outcomes import rate_card
    from core.outcomes.pricing import shop_pricing
    from core.reports.outcomes import costs_by_campaign

    markets = _markets()
    with stack.scratch_services(), tempfile.TemporaryDirectory() as folder:
        cards = Path(folder)
        prices = {effective: _write_card(cards, effective, markets, n) for n, effective in enumerate(CARDS)}
        with (
            patch.object(rate_card, "RATES_DIR", cards),
            patch.object(rate_card, "REVISIONS_PATH", cards / "none.json"),
        ):
            shop_id, campaign_id, rows = _seed(get_engine(), markets)
            timings, cost = [], None
            with Session(get_engine()) as session:
                shop = session.get(Shop, shop_id)
                for _ in range(RUNS + 1):  # the first warms the caches up and is not counted
                    started = time.perf_counter()
                    cost = costs_by_campaign(session, shop_id, shop_pricing(session, shop), [campaign_id])
                    timings.append(time.perf_counter() - started)
                    session.rollback()
    expected = _by_hand(rows, prices, markets)
    found = cost[campaign_id]
    # A day's tiered cost is shared among its groups by division: equal to within 28 digits.
    if found.billed != MESSAGES or found.unpriced or abs(found.amount - expected) > Decimal("1e-12"):
        raise AssertionError(f"priced {found.billed} for {found.amount}, expected {MESSAGES} for {expected}")
    timings = timings[1:]
    return [
        Figure("pricing_1m_s_median", round(statistics.median(timings), 4), "s"),
        Figure("pricing_1m_s_max", round(max(timings), 4), "s", "< 1"),
        Figure("pricing_1m_kept_rows", len(rows), "rows"),
        Figure("pricing_load_average_1m", load_average(), "load"),
    ]


def _markets() -> list[tuple[str, str]]:
    """40 countries with a calling code each: (ISO country, the calling code)."""
    found: dict[str, str] = {}
    for code in sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE):
        region = phonenumbers.region_code_for_country_code(code)
        if region not in ("001", "ZZ") and region not in found:
            found[region] = str(code)
        if len(found) == MARKETS:
            break
    return sorted(found.items())


def _prefixes(code: str) -> list[str]:
    """The kept prefixes (first three digits sent to) of a calling code: +34 is 340 to 349."""
    width = 3 - len(code)
    return [code + str(n).zfill(width) for n in range(10**width)] if width else [code]


def _write_card(folder: Path, effective: str, markets: list[tuple[str, str]], n: int) -> dict:
    """A made-up card: each country its own market, the second card dearer; utility bands."""
    prices, rows, bands = {}, [], {}
    for i, (country, _prefix) in enumerate(markets):
        marketing, utility = Decimal("0.0300") + Decimal(i) / 1000 + n / Decimal(100), Decimal("0.0050")
        cheaper = utility - Decimal("0.0010") * (n + 1)
        prices[country] = (marketing, utility, cheaper)
        figures = {"marketing": str(marketing), "utility": str(utility), "authentication": str(utility)}
        rows.append({"market": country, "countries": [country], **figures})
        bands[country] = [
            {"from": 1, "rate": str(utility)},
            {"from": UTILITY_BAND_FROM, "rate": str(cheaper)},
        ]
    rows.append(
        {
            "market": "Other",
            "countries": [],
            "marketing": "0.0600",
            "utility": "0.0100",
            "authentication": "0.0100",
        }
    )
    document = {
        "effective": effective,
        "currency": "USD",
        "sources": ["made up for the benchmark"],
        "markets": rows,
        "volume_tiers": {"utility": bands, "authentication": {}},
    }
    (folder / f"{effective}_USD.json").write_text(json.dumps(document))
    return prices


def _seed(engine, markets: list[tuple[str, str]]) -> tuple[int, int, list[tuple]]:
    """The shop, the campaign and its kept rows: a million messages over every prefix of the
    countries, the two days and two categories (day, prefix, category, messages)."""
    keys = [
        (day, prefix, category)
        for day in DAYS
        for _country, code in markets
        for prefix in _prefixes(code)
        for category in ("marketing", "utility")
    ]
    each, left = divmod(MESSAGES, len(keys))
    rows = [
        (day, prefix, category, each + (1 if i < left else 0))
        for i, (day, prefix, category) in enumerate(keys)
    ]
    with engine.begin() as conn:
        shop_id = conn.execute(text(_SHOP)).scalar_one()
        campaign_id = conn.execute(text(_CAMPAIGN), {"shop_id": shop_id}).scalar_one()
        columns = {
            name: [r[i] for r in rows]
            for i, name in enumerate(("days", "prefixes", "categories", "messages"))
        }
        conn.execute(text(_KEPT), {"shop_id": shop_id, "campaign_id": campaign_id, **columns})
    return shop_id, campaign_id, rows


_SHOP = "INSERT INTO shops (domain) VALUES ('pricing.myshopify.com') RETURNING id"
_CAMPAIGN = """
    INSERT INTO campaigns (shop_id, name, type, status, template_name, template_language,
                           template_category)
    VALUES (:shop_id, 'A million', 'PROMOTIONAL', 'SENT', 'weekly_offer', 'en', 'MARKETING')
    RETURNING id
"""
_KEPT = """
    INSERT INTO campaign_billed_counts (shop_id, campaign_id, day, prefix, pricing_category, messages)
    SELECT :shop_id, :campaign_id, * FROM unnest(CAST(:days AS date[]), CAST(:prefixes AS text[]),
                                                 CAST(:categories AS text[]), CAST(:messages AS bigint[]))
"""


def _by_hand(rows: list[tuple], prices: dict, markets: list[tuple[str, str]]) -> Decimal:
    """The campaign's cost worked out here: each day by its card, utility past the band cheaper
    (each day starts its own month, and the campaign is the shop's only one)."""
    country_of = {prefix: country for country, code in markets for prefix in _prefixes(code)}
    sums: dict[tuple, int] = {}
    for day, prefix, category, n in rows:
        key = (day, country_of[prefix], category)
        sums[key] = sums.get(key, 0) + n
    total = Decimal(0)
    for (day, country, category), n in sums.items():
        marketing, utility, cheaper = prices[CARDS[DAYS.index(day)]][country]
        if category == "marketing":
            total += marketing * n
        else:  # the bands count the market's month, whatever the prefixes
            full = min(n, UTILITY_BAND_FROM - 1)
            total += utility * full + cheaper * (n - full)
    return total
