"""Rate cards made for a test (core/outcomes/rate_card.py reads them as it reads the shipped
ones): a few markets with made-up figures, optional volume tiers, in a folder of the test's own
that stands in for core/outcomes/data/rates/ while the test runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.outcomes import rate_card

# The markets a test card prices, with the countries each covers.
MARKETS = {"Spain": ["ES"], "Germany": ["DE"], "India": ["IN"], "North America": ["US", "CA"], "Other": []}


def card_document(effective: str, currency: str, rates: dict[str, str], tiers: dict | None = None) -> dict:
    """A card in the shipped files' shape: ``rates`` by market, one figure for every category."""
    rows = []
    for market, countries in MARKETS.items():
        figure = rates.get(market)
        rows.append(
            {
                "market": market,
                "countries": countries,
                "marketing": figure,
                "utility": figure,
                "authentication": figure,
                "source": "https://example.test/made-up-for-a-test",
                "checked": "2026-12-07",
                "confirmed_by_meta": False,
                "unconfirmed": "made up for a test",
            }
        )
    return {
        "effective": effective,
        "currency": currency,
        "sources": ["made up for a test"],
        "note": "",
        "markets": rows,
        "volume_tiers": {"utility": {}, "authentication": {}, **(tiers or {})},
    }


@pytest.fixture
def rate_cards(tmp_path: Path, monkeypatch):
    """Install cards for the test: ``rate_cards(("2026-03-01", "USD", {"Spain": "0.06"}), ...)``,
    each optionally with a fourth item, its volume tiers; no revision is known."""

    def install(*cards: tuple) -> Path:
        for effective, currency, rates, *tiers in cards:
            document = card_document(effective, currency, rates, tiers[0] if tiers else None)
            (tmp_path / f"{effective}_{currency}.json").write_text(json.dumps(document))
        monkeypatch.setattr(rate_card, "RATES_DIR", tmp_path)
        monkeypatch.setattr(rate_card, "REVISIONS_PATH", tmp_path / "revisions.json")
        return tmp_path

    return install
