"""Meta's per-message rates as data (core/outcomes/data/rates/, one file per effective date and
currency, with each row's source and the day it was checked) and a shop's own override from
Settings.

Meta bills a delivered template message by its pricing category and the recipient's country
calling code. A card is by market (a country, or a region such as "Rest of Western Europe",
and "Other" for every country no market names); a row whose figures could not be confirmed is
null and prices nothing, so its messages show as unpriced instead of at another market's rate.
Utility and authentication rates fall by volume tier, per market and calendar month: a card's
``volume_tiers`` hold the bands it knows (core/outcomes/pricing.py applies them). An override
is ``{"currency": "EUR", "rates": {"ES": {"marketing": "0.0560"}, "*": {...}}}`` by ISO
country, ``*`` for every country it does not name; it has no date and no tiers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

import phonenumbers

RATES_DIR = Path(__file__).resolve().parent / "data" / "rates"
REVISIONS_PATH = RATES_DIR / "revisions.json"
CATEGORIES = ("marketing", "utility", "authentication")
TIERED = ("utility", "authentication")
OTHER = "Other"
# Meta's webhook categories that bill like one of the card's columns. An authentication-
# international message is priced at the market's authentication rate: its own rate applies
# only to an eligible business based elsewhere, which the app cannot tell.
_BILLED_AS = {
    "marketing_lite": "marketing",
    "authentication-international": "authentication",
    "authentication_international": "authentication",
}
MERCHANT = "merchant"  # a merchant override's ``effective``


def billed_as(category: str) -> str:
    """The card's column that prices a message of Meta's pricing ``category``."""
    return _BILLED_AS.get(category, category)


@dataclass(frozen=True)
class Card:
    currency: str
    effective: str  # ISO date the card took effect, or MERCHANT for an override
    sources: tuple[str, ...]
    rates: dict[str, dict[str, Decimal]]  # ISO country or "*" -> category -> rate
    markets: dict[str, str] = field(default_factory=dict)  # ISO country or "*" -> market name
    # category -> market -> bands ((first message of the month the band starts at, rate), ...)
    tiers: dict[str, dict[str, tuple[tuple[int, Decimal], ...]]] = field(default_factory=dict)

    @property
    def is_override(self) -> bool:
        return self.effective == MERCHANT

    def market(self, country: str | None) -> str:
        """The market that prices ``country`` (Other for any country no market names)."""
        return self.markets.get(country or "*") or self.markets.get("*") or OTHER

    def rate(self, country: str | None, category: str) -> Decimal | None:
        """The list rate, before volume tiers; None when the card has none for it."""
        category = billed_as(category)
        row = self.rates.get(country or "*")
        if row is None:
            row = self.rates.get("*") or {}
        return row.get(category)

    def bands(self, country: str | None, category: str) -> tuple[tuple[int, Decimal], ...]:
        """The volume bands of the country's market for ``category``; () when it has none."""
        return self.tiers.get(billed_as(category), {}).get(self.market(country), ())


def read_card(path: Path) -> Card:
    """Read one card file (its shape is checked by tests/test_rate_cards.py)."""
    data = json.loads(path.read_text())
    rates: dict[str, dict[str, Decimal]] = {}
    markets: dict[str, str] = {}
    for row in data["markets"]:
        figures = {c: Decimal(row[c]) for c in CATEGORIES if row.get(c) is not None}
        for country in row["countries"] or (["*"] if row["market"] == OTHER else []):
            rates[country], markets[country] = figures, row["market"]
    tiers = {
        category: {
            market: tuple((int(band["from"]), Decimal(band["rate"])) for band in bands)
            for market, bands in data["volume_tiers"].get(category, {}).items()
        }
        for category in TIERED
    }
    return Card(data["currency"], data["effective"], tuple(data["sources"]), rates, markets, tiers)


def card_book() -> dict[str, tuple[Card, ...]]:
    """Every card shipped in RATES_DIR, by currency, oldest first."""
    return _book(RATES_DIR)


def known_revisions() -> tuple[str, ...]:
    """The dates Meta is known to have revised its rates on (REVISIONS_PATH, with sources)."""
    return _revisions(REVISIONS_PATH)


@lru_cache(maxsize=8)
def _book(directory: Path) -> dict[str, tuple[Card, ...]]:
    book: dict[str, list[Card]] = defaultdict(list)
    for path in sorted(directory.glob("*_*.json")):
        card = read_card(path)
        book[card.currency].append(card)
    return {currency: tuple(sorted(cards, key=lambda c: c.effective)) for currency, cards in book.items()}


@lru_cache(maxsize=8)
def _revisions(path: Path) -> tuple[str, ...]:
    if not path.exists():
        return ()
    return tuple(sorted(r["effective"] for r in json.loads(path.read_text())["revisions"]))


class BadRateCard(ValueError):
    """An override that is not ``{"currency", "rates": {country: {category: amount}}}``."""


def parse_override(raw: object) -> Card:
    """Read a merchant's override; raises BadRateCard saying what is wrong."""
    if not isinstance(raw, dict) or not isinstance(raw.get("rates"), dict):
        raise BadRateCard('give {"currency": "EUR", "rates": {"ES": {"marketing": "0.05"}}}')
    currency = raw.get("currency")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise BadRateCard("currency must be a three-letter code such as EUR")
    rates: dict[str, dict[str, Decimal]] = {}
    for country, row in raw["rates"].items():
        if country != "*" and (len(country) != 2 or not country.isalpha()):
            raise BadRateCard(f"{country!r} is not a two-letter country code or *")
        if not isinstance(row, dict) or not set(row) <= set(CATEGORIES):
            raise BadRateCard(f"rates of {country} must name only {', '.join(CATEGORIES)}")
        rates[country.upper()] = {category: _amount(value, country) for category, value in row.items()}
    return Card(currency.upper(), MERCHANT, ("set in Settings",), rates)


def _amount(value: object, country: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise BadRateCard(f"a rate of {country} is not a number: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise BadRateCard(f"a rate of {country} must be zero or more")
    return amount


def priced_countries() -> frozenset[str]:
    """The countries a message can be priced as: the main country of each calling code (what
    country_of_prefix returns), so a rate for Canada, which shares +1, would never apply."""
    codes = (
        phonenumbers.region_code_for_country_code(code) for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
    )
    return frozenset(code for code in codes if len(code) == 2 and code.isalpha())


@lru_cache(maxsize=4096)
def country_of_prefix(digits: str) -> str | None:
    """Return the main ISO country of the calling code that begins ``digits`` (the digits
    after the "+"); calling codes are prefix-free, so the first that exists is the one.
    All of +1 is North America here: Meta prices the US and Canada alike."""
    for length in (1, 2, 3):
        code = digits[:length]
        if code.isdigit() and int(code) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return phonenumbers.region_code_for_country_code(int(code))
    return None
