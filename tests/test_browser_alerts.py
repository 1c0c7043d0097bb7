"""Dismissing a shop alert from the app home, in headless chromium against a real server."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import ShopAlert
from tests.browser import admin_query, app_tab, screenshot
from tests.tokens import session_token

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"


@pytest.fixture
def page(service_urls):
    with app_tab() as tab:
        yield tab


def test_dismiss_on_the_app_home_closes_the_alert(page, make):
    """The home shows the alert with what to do; Dismiss posts with a session token, the page
    reloads without it, and the alert is resolved in the database."""
    shop = make.shop(SHOP)
    campaign = make.campaign(shop, "Autumn sale", status="PENDING")
    with Session(make.engine, expire_on_commit=False) as session, session.begin():
        alert = ShopAlert(
            shop_id=shop.id,
            campaign_id=campaign.id,
            code="131031",
            title="Campaign stopped: The WhatsApp Business account is locked",
            details="Dispatch stopped.",
        )
        session.add(alert)

    token = session_token(SHOP, exp=int(time.time()) + 600)
    page.goto(f"{page.base}/?" + admin_query(SHOP, token))
    banner = page.locator(f'[data-alert="{alert.id}"]')
    assert "The WhatsApp Business account is locked" in banner.inner_text()
    assert "What to do" in banner.inner_text()
    screenshot(page, "home-with-alert")

    banner.get_by_role("button", name="Dismiss").click()
    page.locator(f'[data-alert="{alert.id}"]').wait_for(state="detached")
    page.locator("table.campaigns").wait_for()  # the home loaded again, alert gone
    assert "account is locked" not in page.locator("main").inner_text()
    with Session(make.engine) as session:
        assert session.scalar(select(ShopAlert.resolved_at).where(ShopAlert.id == alert.id)) is not None
