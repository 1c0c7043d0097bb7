"""Buying credits in a real headless chromium against the real Shopify stand-in: Settings'
"Buy credits" sends the browser to Shopify's approval page (the stand-in's), the merchant
approves, Shopify brings them back into the app, and the balance shows the pack."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import CreditMovement
from tests.browser import admin_query, chromium, offline_cdn, screenshot, serve
from tests.shopify_stand_in import installed_shop
from tests.tokens import bearer, session_token

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"
ADMIN_APP = "https://admin.shopify.com/store/demo/apps/"


@pytest.fixture
def page(app, shopify):
    with serve(app) as url, chromium() as browser:
        # Shopify's webhook reaches the app under test; no worker runs here, so the balance on
        # return comes from the return path itself.
        shopify.configure(webhook_url=f"{url}/webhooks/shopify")
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        tab = context.new_page()
        offline_cdn(tab)

        def admin(route):
            # The Shopify admin, played by the test: it loads the app's path in the frame with a
            # fresh session token and its own context parameters, the query kept.
            target = urlsplit(route.request.url)
            path = target.path.removeprefix(urlsplit(ADMIN_APP).path).split("/", 1)[1]
            query = admin_query(SHOP, session_token(SHOP, exp_in=600), **dict(parse_qsl(target.query)))
            route.fulfill(status=302, headers={"Location": f"{url}/{path}?{query}"})

        tab.route(ADMIN_APP + "**", admin)
        tab.base_url = url
        yield tab
        context.close()


def test_buy_credits_approve_on_shopify_and_see_the_balance(page, make, shopify):
    shop = installed_shop(make, shopify, SHOP, credits=0)
    page.goto(f"{page.base_url}/settings?{admin_query(SHOP, session_token(SHOP, exp_in=600))}")
    assert page.locator("[data-credit-balance]").inner_text() == "0"

    page.get_by_role("button", name="Buy credits: 5,000 for 45.00 USD").click()
    page.get_by_role("heading", name="Approve a one-time charge").wait_for()
    assert "5,000 WhatsApp campaign credits" in page.content()
    screenshot(page, "credits-approve")
    page.get_by_role("button", name="Approve").click()

    page.get_by_text("5,000 credits added.").wait_for()
    assert page.locator("[data-credit-balance]").inner_text() == "5,000"
    assert "credit_purchase=returned" in page.url and "charge_id=" in page.url
    screenshot(page, "credits-added")
    shopify.wait_for_webhooks()
    with Session(make.engine) as session:
        grants = session.scalars(select(CreditMovement.amount).where(CreditMovement.shop_id == shop.id)).all()
    assert grants == [5000]

    page.reload()  # the ledger names the purchase
    row = page.locator('[data-movement="grant"]')
    assert (
        "Bought through Shopify" in row.inner_text()
        and "5,000 credits, 45.00 USD (test charge)" in row.inner_text()
    )


def test_a_purchase_approved_without_a_return_is_credited_on_the_next_visit(page, client, make, shopify):
    """The merchant approved, then closed the tab before Shopify brought them back, and the
    webhook was lost: opening Settings asks Shopify again and credits the pack."""
    installed_shop(make, shopify, SHOP, credits=0)
    shopify.configure(webhook_url=None)
    bought = client.post("/api/credits/purchase", json={"pack": "credits_1000"}, headers=bearer(SHOP))
    requests.post(bought.get_json()["confirmation_url"] + "/approve", allow_redirects=False, timeout=10)

    page.goto(f"{page.base_url}/settings?{admin_query(SHOP, session_token(SHOP, exp_in=600))}")
    page.get_by_text("1,000 credits added.").wait_for()
    assert page.locator("[data-credit-balance]").inner_text() == "1,000"
