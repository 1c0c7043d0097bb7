"""The one-click phone fix in a real headless chromium: the app served for real, the Shopify
stand-in behind it, the app home installing the shop by token exchange on the way."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Customer
from tests.browser import admin_query, chromium, offline_cdn, screenshot, serve
from tests.scenarios import mixed_campaign
from tests.tokens import session_token

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"


@pytest.fixture
def page(shopify, service_urls):
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        tab = context.new_page()
        offline_cdn(tab)
        yield tab
        context.close()


@pytest.fixture
def base_url(shopify, service_urls):
    from web import create_app

    with serve(create_app({"APP_ENV": "test", "TESTING": True})) as url:
        yield url


def _customers_in_shopify(shopify, scenario) -> None:
    """Shopify holds the scenario's customers as we do (the two calling-code failures included)."""
    shopify.put_customers(
        SHOP,
        [
            {
                "shopify_id": c.shopify_customer_id,
                "first_name": c.first_name,
                "last_name": c.last_name,
                "phone": c.phone,
                "country_code": c.country_code,
                "consent": c.consent,
            }
            for c in scenario.customers.values()
        ],
    )


def test_apply_writes_the_suggested_number_to_shopify_and_shows_it_in_place(page, base_url, shopify, make):
    """On the failed-messages page, "Apply +34612345679" posts to the API with a session token;
    the row shows the fixed number without a reload, Shopify and our database hold it, and
    the customer with no suggestion has no button."""
    scenario = mixed_campaign(make, make.shop(SHOP, timezone="Europe/Madrid"))
    _customers_in_shopify(shopify, scenario)
    lopez, nocountry = scenario.customers["lopez"], scenario.customers["nocountry"]
    token = session_token(SHOP, exp=int(time.time()) + 600)
    page.goto(f"{base_url}/campaigns/{scenario.campaign.id}/messages?" + admin_query(SHOP, token))
    assert shopify.stats()["exchanges"] == 1  # the page load installed the token-less shop
    row = page.locator(f'tr[data-message-id="{scenario.messages["lopez"].id}"]')
    button = row.get_by_role("button", name="Apply +34612345679")
    assert page.locator(f'tr[data-message-id="{scenario.messages["nocountry"].id}"] button').count() == 0
    page.evaluate("window.__sameDocument = true")
    button.click()
    result = row.locator("[data-fix-result]")
    result.filter(has_text="Fixed in Shopify").wait_for()
    assert result.inner_text() == "Fixed in Shopify: +34612345679"
    assert row.locator(".phone").inner_text() == "+34612345679"
    assert row.get_by_role("button").count() == 0
    assert page.evaluate("window.__sameDocument") is True  # in place, not reloaded
    screenshot(page, "calling_code_fix_applied")
    assert shopify.customer(SHOP, lopez.shopify_customer_id)["phone"] == "+34612345679"
    with Session(make.engine) as session:
        ours = session.scalar(select(Customer).where(Customer.id == lopez.id))
    assert ours.phone_e164 == "+34612345679"
    assert shopify.customer(SHOP, nocountry.shopify_customer_id)["phone"] == "612 34 56 70"


def test_shopifys_refusal_is_shown_in_the_row(page, base_url, shopify, make):
    """When Shopify refuses the number (another customer has it), the row says why and the
    button can be pressed again."""
    scenario = mixed_campaign(make, make.shop(SHOP, timezone="Europe/Madrid"))
    _customers_in_shopify(shopify, scenario)
    shopify.change_customer(
        SHOP, shopify_id=424242, first_name="Other", phone="+34612345679", country_code="ES"
    )
    token = session_token(SHOP, exp=int(time.time()) + 600)
    page.goto(f"{base_url}/campaigns/{scenario.campaign.id}/messages?" + admin_query(SHOP, token))
    row = page.locator(f'tr[data-message-id="{scenario.messages["lopez"].id}"]')
    row.get_by_role("button", name="Apply +34612345679").click()
    alert = row.get_by_role("alert")
    alert.wait_for()
    assert alert.inner_text() == "Shopify did not accept it: Phone has already been taken"
    assert row.get_by_role("button", name="Apply +34612345679").is_enabled()
    assert row.locator(".phone").inner_text() == "612 34 56 79"
    screenshot(page, "calling_code_fix_refused")
