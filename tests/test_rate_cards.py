"""The shipped rate cards (core/outcomes/data/rates/) against their schema: one file per
effective date and currency, every market Meta prices on that date with the countries it
covers, each category a figure or an explicit null with the reason, and beside every row its
source and the day it was checked; rows not read on Meta's own page say where they came from."""

from __future__ import annotations

import json
import re
from datetime import date
from decimal import Decimal

import phonenumbers
import pytest

from core.outcomes.rate_card import (
    CATEGORIES,
    RATES_DIR,
    REVISIONS_PATH,
    card_book,
    country_of_prefix,
    priced_countries,
    read_card,
)

# Meta's markets of the per-message cards (Meta's pricing page); nine more from 2026-10-01.
MARKETS = {
    "Argentina", "Brazil", "Chile", "Colombia", "Egypt", "France", "Germany", "India", "Indonesia", "Israel",
    "Italy", "Malaysia", "Mexico", "Netherlands", "Nigeria", "Pakistan", "Peru", "Russia", "Saudi Arabia",
    "South Africa", "Spain", "Turkey", "United Arab Emirates", "United Kingdom", "North America",
    "Rest of Africa", "Rest of Asia Pacific", "Rest of Central & Eastern Europe", "Rest of Latin America",
    "Rest of Middle East", "Rest of Western Europe", "Other",
}  # fmt: skip
MARKETS_FROM_2026_10 = {
    "Bangladesh",
    "Iraq",
    "Nepal",
    "Sri Lanka",
    "Kazakhstan",
    "Kuwait",
    "Morocco",
    "Oman",
    "Ukraine",
}
# Markets with an authentication-international rate (Meta's authentication-international page).
AUTHENTICATION_INTERNATIONAL = {
    "Egypt", "India", "Indonesia", "Malaysia", "Nigeria", "Pakistan", "Saudi Arabia", "South Africa",
    "United Arab Emirates",
}  # fmt: skip
FILES = sorted(RATES_DIR.glob("*_*.json"))
AMOUNT = re.compile(r"^\d+\.\d{1,6}$")


def _markets_on(effective: str) -> set[str]:
    return MARKETS | (MARKETS_FROM_2026_10 if effective >= "2026-10-01" else set())


def _checked(value: str) -> None:
    assert date.fromisoformat(value) <= date.today()


def test_cards_are_shipped_one_file_per_effective_date_and_currency():
    """Each file's name is its effective date and currency, as its content says."""
    assert FILES, "no rate card shipped"
    for path in FILES:
        document = json.loads(path.read_text())
        assert path.stem == f"{document['effective']}_{document['currency']}"
        assert re.fullmatch(r"[A-Z]{3}", document["currency"])
        date.fromisoformat(document["effective"])
        assert document["sources"] and document["note"]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_market_and_category_has_a_figure_or_a_reason_with_its_source(path):
    """Every market of the date is there once; each category is a decimal string or null with
    the reason; every row names its source (a URL) and when it was checked, and a row not
    confirmed on Meta's own page says where its figures came from."""
    document = json.loads(path.read_text())
    names = [row["market"] for row in document["markets"]]
    assert len(names) == len(set(names))
    assert set(names) == _markets_on(document["effective"])
    for row in document["markets"]:
        figures = [row[c] for c in CATEGORIES]
        assert all(f is None or AMOUNT.match(f) for f in figures), row["market"]
        assert row["source"].startswith("https://"), row["market"]
        _checked(row["checked"])
        assert isinstance(row["confirmed_by_meta"], bool)
        if not row["confirmed_by_meta"] or None in figures:
            assert row["unconfirmed"].strip(), f"{row['market']} does not say where its figures came from"
        if row["market"] in AUTHENTICATION_INTERNATIONAL:
            value = row["authentication_international"]
            assert value is None or AMOUNT.match(value)
            assert row["authentication_international_source"].startswith("https://")
        else:
            assert "authentication_international" not in row


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_countries_are_real_and_in_one_market_each(path):
    """Every country is an ISO code phonenumbers knows, in one market only; Other names none
    (it is every country no market names)."""
    seen: set[str] = set()
    for row in json.loads(path.read_text())["markets"]:
        if row["market"] == "Other":
            assert row["countries"] == []
            continue
        assert row["countries"], row["market"]
        for country in row["countries"]:
            assert country in phonenumbers.SUPPORTED_REGIONS, country
            assert country not in seen, f"{country} is in two markets"
            seen.add(country)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_volume_tiers_are_bands_from_the_first_message_with_their_source(path):
    """Tiers name known markets, start at the month's first message, rise, and carry rates;
    the section says where they came from and when."""
    document = json.loads(path.read_text())
    tiers = document["volume_tiers"]
    assert tiers["source"].startswith("https://") and tiers["note"]
    _checked(tiers["checked"])
    names = {row["market"] for row in document["markets"]}
    for category in ("utility", "authentication"):
        for market, bands in tiers[category].items():
            assert market in names
            starts = [band["from"] for band in bands]
            assert starts[0] == 1 and starts == sorted(set(starts))
            assert all(AMOUNT.match(band["rate"]) for band in bands)


def test_the_cards_read_as_the_pricing_reads_them():
    """Each file reads into a card whose unconfirmed markets price nothing (never another
    market's rate), and the known revisions each name their source."""
    book = card_book()
    usd = book["USD"][0]
    assert usd.rate("ES", "marketing") == Decimal("0.0615")
    assert usd.rate("IN", "marketing") is None  # India is a market of its own, not "Other"
    assert usd.market("IN") == "India" and usd.market("JP") == "Rest of Asia Pacific"
    assert usd.market("AQ") == "Other" and usd.rate("AQ", "marketing") == Decimal("0.0604")
    for path in FILES:
        assert read_card(path).currency == path.stem[-3:]
    revisions = json.loads(REVISIONS_PATH.read_text())
    for revision in revisions["revisions"]:
        date.fromisoformat(revision["effective"])
        assert revision["source"].startswith("https://")
        _checked(revision["checked"])
    assert "USD" in revisions["currencies"]["published"]


def test_the_countries_a_merchant_can_price_are_those_a_message_is_priced_as():
    """Settings offers a rate per country the pricing can see: each is what its calling code
    reads as; a country sharing its code with a larger one (Canada, Kazakhstan) is not one."""
    countries = priced_countries()
    assert {"US", "RU", "ES", "GB", "IN"} <= countries and not {"CA", "KZ"} & countries
    for country in countries:
        assert country_of_prefix(str(phonenumbers.country_code_for_region(country))) == country
