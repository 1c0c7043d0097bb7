"""The outcome sections of the Settings page in a real headless chromium: the attribution
window and the rate card are saved through the API as JSON, a bad rate card shows why."""

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

    rates = page.get_by_label("Your own rates (JSON, empty for Meta's)")
    rates.fill('{"currency": "EUR", "rates": {"XX1": {"marketing": "0.05"}}}')
    page.get_by_role("button", name="Save rates").click()
    alert = page.locator("#rates [data-api-action-result]")
    alert.wait_for()
    assert "not a two-letter country code" in alert.inner_text()
    assert _shop(make).rate_card is None

    rates.fill('{"currency": "EUR", "rates": {"ES": {"marketing": "0.05"}}}')
    with page.expect_navigation():
        page.get_by_role("button", name="Save rates").click()
    assert '"ES"' in page.get_by_label("Your own rates (JSON, empty for Meta's)").input_value()
    assert _shop(make).rate_card == {"currency": "EUR", "rates": {"ES": {"marketing": "0.05"}}}
    screenshot(page, "settings_outcomes")
