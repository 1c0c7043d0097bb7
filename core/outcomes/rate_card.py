"""Meta's per-message rates: the shipped card (core/outcomes/data/meta_rates.json, with its effective
date and sources) and a shop's own override from Settings.

Meta bills a delivered template message by its pricing category and the recipient's country
calling code. The card is by market (a country, or a region such as "Rest of Western
Europe"); an override is ``{"currency": "EUR", "rates": {"ES": {"marketing": "0.0560"},
"*": {...}}}`` by ISO country, ``*`` for every country it does not name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path

import phonenumbers

CARD_PATH = Path(__file__).resolve().parent / "data" / "meta_rates.json"
CATEGORIES = ("marketing", "utility", "authentication")
# Meta's webhook categories that bill like one of the card's columns.
_BILLED_AS = {
    "marketing_lite": "marketing",
    "authentication-international": "authentication",
    "authentication_international": "authentication",
}


@dataclass(frozen=True)
class Card:
    currency: str
    effective: str
    sources: tuple[str, ...]
    rates: dict[str, dict[str, Decimal]]  # ISO country or "*" -> category -> rate

    def rate(self, country: str | None, category: str) -> Decimal | None:
        category = _BILLED_AS.get(category, category)
        row = self.rates.get(country or "*") or self.rates.get("*") or {}
        return row.get(category)


@lru_cache(maxsize=1)
def shipped_card() -> Card:
    """Return Meta's published card as shipped with the app."""
    data = json.loads(CARD_PATH.read_text())
    rates: dict[str, dict[str, Decimal]] = {}
    for name, market in data["markets"].items():
        row = {c: Decimal(market[c]) for c in CATEGORIES}
        for country in market["countries"]:
            rates[country] = row
        if name == "Other":
            rates["*"] = row
    return Card(data["currency"], data["effective"], tuple(data["sources"]), rates)


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
    return Card(currency.upper(), "merchant", ("set in Settings",), rates)


def _amount(value: object, country: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise BadRateCard(f"a rate of {country} is not a number: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise BadRateCard(f"a rate of {country} must be zero or more")
    return amount


def card_for(override: dict | None) -> Card:
    """Return the shop's card: its override when it has one, Meta's otherwise."""
    return parse_override(override) if override else shipped_card()


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
