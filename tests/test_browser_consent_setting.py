"""The Settings page's consent section in a real headless chromium: turning on "SMS consent
counts" saves through the API, and the reach the page shows grows by the SMS-only customers."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core.models import Shop
from tests.browser import admin_query, chromium, offline_cdn, screenshot, serve
from tests.tokens import session_token

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"


def test_the_sms_consent_toggle_saves_and_changes_the_reach(make, service_urls):
    """Off by default (reach 1: the WhatsApp-subscribed customer); on: reach 2, stored on the shop."""
    from web import create_app

    shop = make.shop(SHOP)
    make.customer(shop, phone="+34612000001", phone_e164="+34612000001", consent="SUBSCRIBED")
    make.customer(
        shop,
        phone="+34612000002",
        phone_e164="+34612000002",
        consent="NOT_SUBSCRIBED",
        sms_consent="SUBSCRIBED",
    )
    make.customer(
        shop,
        phone="+34612000003",
        phone_e164="+34612000003",
        consent="UNSUBSCRIBED",
        sms_consent="SUBSCRIBED",
    )
    app = create_app({"APP_ENV": "test", "TESTING": True})
    with serve(app) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        offline_cdn(page)
        page.goto(f"{url}/settings?{admin_query(SHOP, session_token(SHOP, exp_in=600))}")
        reach = page.locator("[data-consent-reach]")
        assert reach.inner_text().endswith(": 1")
        # The customer who stopped WhatsApp is not counted: the toggle adds exactly one.
        assert page.locator("[data-consent-sms-only]").inner_text() == "Turning this on adds 1 customer."
        toggle = page.get_by_label("Also send to customers who agreed to SMS marketing only")
        assert not toggle.is_checked()
        toggle.check()
        page.locator("[data-consent-reach]", has_text=": 2").wait_for()
        assert page.get_by_label("Also send to customers who agreed to SMS marketing only").is_checked()
        assert (
            page.locator("[data-consent-sms-only]").inner_text() == "Turning this off leaves out 1 customer."
        )
        screenshot(page, "settings-consent")
    with Session(make.engine) as session:
        assert session.get(Shop, shop.id).sms_consent_counts is True
