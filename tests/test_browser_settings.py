"""The Settings page in a real headless chromium against the real Meta stand-in: a refused
token shows Meta's own message, a good one connects (Meta's facts on the page), and
disconnecting brings the call to action back."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Shop
from tests.browser import admin_query, chromium, offline_cdn, screenshot, serve
from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, WABA_ID
from tests.tokens import session_token

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"


@pytest.fixture
def page(meta, service_urls):
    from web import create_app

    app = create_app({"APP_ENV": "test", "TESTING": True})
    with serve(app) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        tab = context.new_page()
        offline_cdn(tab)
        tab.base_url = url
        yield tab
        context.close()


def _open_settings(page) -> None:
    token = session_token(SHOP, exp_in=600)
    page.goto(f"{page.base_url}/settings?{admin_query(SHOP, token)}")


def _connect(page, token: str) -> None:
    page.get_by_label("WhatsApp Business Account id").fill(WABA_ID)
    page.get_by_label("Phone number id").fill(PHONE_NUMBER_ID)
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Connect WhatsApp").click()


def _stored_token(make):
    with Session(make.engine) as session:
        return session.scalar(select(Shop.meta_access_token_ciphertext).where(Shop.domain == SHOP))


def test_connect_refused_token_and_disconnect_in_the_browser(page, make):
    """Refused token: Meta's message in place, nothing stored; good token: the number's facts;
    Disconnect: the call to action again."""
    make.shop(SHOP, meta_phone_number_id=None)
    _open_settings(page)
    assert page.get_by_text("No WhatsApp Business number is connected").is_visible()

    _connect(page, "EAAG-revoked")
    result = page.locator("[data-wa-result]")
    result.get_by_text("Invalid OAuth access token - Cannot parse access token").wait_for()
    assert result.inner_text().startswith("Access token: ")
    screenshot(page, "settings-refused")
    assert _stored_token(make) is None

    _connect(page, TOKEN)
    page.get_by_text("Subscribed on the account").wait_for()
    assert page.locator('[data-wa="display_phone_number"]').inner_text() == "+1 555-000-1234"
    assert page.locator('[data-wa="verified_name"]').inner_text() == "Demo Shop"
    assert page.locator('[data-wa="quality_rating"]').inner_text() == "High (green)"
    assert _stored_token(make) is not None
    assert not page.get_by_label("Access token").is_visible()  # folded under "Connect a different number"
    screenshot(page, "settings-connected")

    page.get_by_role("button", name="Disconnect").click()
    page.get_by_text("No WhatsApp Business number is connected").wait_for()
    deadline = time.monotonic() + 10
    while _stored_token(make) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _stored_token(make) is None
