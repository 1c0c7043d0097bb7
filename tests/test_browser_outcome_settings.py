"""The outcome sections of the Settings page in a real headless chromium: the attribution
window and the merchant's own rates (a form per market) are saved through the API as JSON, a
bad rate shows why, and "Use Meta's rates" forgets the merchant's."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Shop
from tests.browser import app_tab, open_embedded, screenshot

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"


@pytest.fixture
def page(service_urls):
    with app_tab() as tab:
        open_embedded(tab, "/settings", SHOP)
        yield tab


def _shop(make) -> Shop:
    with Session(make.engine) as session:
        return session.scalar(select(Shop).where(Shop.domain == SHOP))


@pytest.fixture(autouse=True)
def shop(make):
    return make.shop(SHOP, currency="EUR")


def test_saving_the_window_and_a_rate_card(page, make):
    """A new window and the merchant's own rates are stored and shown after the reload; a rate
    card that is not one shows the reason and changes nothing."""
    window = page.get_by_label("Attribution window (days)")
    window.fill("14")
    with page.expect_navigation():  # saved: the page reloads with the stored values
        page.get_by_role("button", name="Save window").click()
    assert page.get_by_label("Attribution window (days)").input_value() == "14"
    assert _shop(make).attribution_window_days == 14

    # Own rates: one row per market; the page says they reprice past campaigns too.
    assert "past ones included" in page.locator("[data-reprice-warning]").inner_text()
    assert page.get_by_label("Currency of your rates").input_value() == "EUR"
    country = page.get_by_label("Country", exact=True)
    assert country.locator("option[value=CA]").count() == 0  # +1 is priced as the US: no dead row
    country.select_option("ES")
    page.get_by_label("Marketing, Spain").fill("0.05x")
    page.get_by_role("button", name="Save rates").click()
    alert = page.locator("#rates [data-api-action-result]").first
    alert.wait_for()
    assert "a rate of ES is not a number" in alert.inner_text()  # the API's reason, beside the form
    assert _shop(make).rate_card is None

    page.get_by_label("Marketing, Spain").fill("0.05")
    with page.expect_navigation():
        page.get_by_role("button", name="Save rates").click()
    assert page.get_by_label("Marketing, Spain").input_value() == "0.05"
    assert _shop(make).rate_card == {"currency": "EUR", "rates": {"ES": {"marketing": "0.05"}}}

    # Add a market, price every other country, remove Spain: one save stores exactly that.
    page.get_by_role("button", name="Add a market").click()
    new_country = page.get_by_label("Country", exact=True).last
    assert new_country.evaluate("select => select === document.activeElement")
    new_country.select_option("DE")
    page.get_by_label("Utility, Germany").fill("0.03")
    page.get_by_label("Marketing, every other country").fill("0.07")
    page.get_by_role("button", name="Remove Spain").click()
    assert page.get_by_label("Marketing, Spain").count() == 0
    assert page.get_by_role("button", name="Add a market").evaluate("b => b === document.activeElement")
    # The save bar's Discard (a reset event) brings back the rows as stored.
    page.get_by_role("button", name="Save rates").evaluate("b => b.form.reset()")
    assert page.get_by_label("Marketing, Spain").input_value() == "0.05"
    assert page.get_by_label("Country", exact=True).count() == 1
    page.get_by_role("button", name="Add a market").click()
    page.get_by_label("Country", exact=True).last.select_option("DE")
    page.get_by_label("Utility, Germany").fill("0.03")
    page.get_by_label("Marketing, every other country").fill("0.07")
    page.get_by_role("button", name="Remove Spain").click()
    with page.expect_navigation():
        page.get_by_role("button", name="Save rates").click()
    assert _shop(make).rate_card == {
        "currency": "EUR",
        "rates": {"DE": {"utility": "0.03"}, "*": {"marketing": "0.07"}},
    }
    screenshot(page, "settings_outcomes")

    # A country twice is said before anything is sent.
    page.get_by_role("button", name="Add a market").click()
    page.get_by_label("Country", exact=True).last.select_option("DE")
    page.get_by_label("Marketing, Germany").last.fill("0.04")
    page.get_by_role("button", name="Save rates").click()
    assert "Germany (DE) has two rows" in alert.inner_text()

    with page.expect_navigation():
        page.get_by_role("button", name="Use Meta's rates").click()
    assert _shop(make).rate_card is None
    assert page.get_by_role("button", name="Use Meta's rates").count() == 0
    assert page.get_by_label("Marketing, every other country").input_value() == ""
