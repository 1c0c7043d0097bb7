"""Money as the pages write it (web/formatting.py): the currency's own decimals for totals, up to
four places for a price per message, and "—" (not measurable yet) kept apart from a measured zero."""

from __future__ import annotations

from web.formatting import DASH, ShopFormat


def test_totals_use_the_currencys_own_decimals():
    """Yen has none, the dinar three, the euro two; the locale places the symbol and separators."""
    fmt = ShopFormat("en", "UTC")
    assert fmt.money({"amount": "1234.5", "currency": "JPY"}) == "¥1,235"  # half up, not to even
    assert fmt.money({"amount": "1.2345", "currency": "BHD"}) == "BHD1.235"
    assert fmt.money({"amount": "0.1845", "currency": "USD"}) == "$0.18"
    assert ShopFormat("de", "UTC").money({"amount": "12.5", "currency": "EUR"}) == "12,50\xa0€"


def test_a_price_per_message_keeps_four_places():
    """Meta's rates are fractions of a cent: "$0.0615", not "$0.06"."""
    assert ShopFormat("en", "UTC").unit_price({"amount": "0.0615", "currency": "USD"}) == "$0.0615"


def test_a_dash_means_not_measurable_and_zero_means_measured():
    """Nothing delivered: "—"; delivered and nothing earned: "$0.00"; a ratio of nothing: "—"."""
    fmt = ShopFormat("en", "UTC")
    assert fmt.total(None, "USD", measured=False) == DASH
    assert fmt.total(None, "USD", measured=True) == "$0.00"
    assert fmt.total(None, "JPY", measured=True) == "¥0"
    billed = {"return_on_spend": None, "cost": {"amount": "0.31", "currency": "USD"}, "revenue": None}
    assert fmt.return_on_spend(billed, measured=True) == "0.00×"
    assert fmt.return_on_spend({**billed, "cost": None}, measured=True) == DASH
