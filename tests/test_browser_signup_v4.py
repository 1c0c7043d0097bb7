"""Embedded Signup v4 in a real headless chromium against the real Meta stand-in: a brand-new
number (PENDING on Meta) is connected, registered on the Cloud API, its PIN shown once, then
Settings shows it connected; a merchant who closes the popup, or whom Meta stops with an error,
reads what happened in words and nothing is connected; a WhatsApp Business app number connects
with no PIN, at 20 messages a second."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.crypto import decrypt_token
from core.models import Shop, WhatsAppConnection
from sim.meta.config import DEMO_APP_ID
from tests.browser import admin_query, chromium, offline_cdn, screenshot, serve
from tests.tokens import session_token

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"

# Meta's JS SDK as the page meets it, served in place of connect.facebook.net: FB.login records
# its options, opens a frame on www.facebook.com whose page posts v4's session-info message to
# the app, then answers the code (or, when the popup was closed, no authResponse), as Meta does.
FAKE_SDK = """
window.FB = {
  init: function (options) {},
  login: function (callback, options) {
    sessionStorage.setItem("fbLogin", JSON.stringify(options));
    const frame = document.createElement("iframe");
    frame.src = "https://www.facebook.com/embedded-signup";
    document.body.appendChild(frame);
    frame.onload = function () {
      const code = %s;
      callback(code ? { authResponse: { code: code }, status: "connected" }
                    : { authResponse: null, status: "unknown" });
    };
  },
};
window.fbAsyncInit && window.fbAsyncInit();
"""


@pytest.fixture
def signup(meta, service_urls):
    """The Settings page with Embedded Signup offered; ``popup`` says what Meta's popup ends with."""
    from web import create_app

    popup = {"message": None, "code": None}
    app = create_app(
        {"APP_ENV": "test", "TESTING": True, "META_APP_ID": DEMO_APP_ID, "META_CONFIG_ID": "424242"}
    )
    with serve(app) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        tab = context.new_page()
        offline_cdn(tab)
        tab.route(
            "https://connect.facebook.net/**",
            lambda route: route.fulfill(
                body=FAKE_SDK % json.dumps(popup["code"]), content_type="text/javascript"
            ),
        )
        tab.route(
            "https://www.facebook.com/**",
            lambda route: route.fulfill(
                body=f"<script>parent.postMessage({json.dumps(json.dumps(popup['message']))}, '*');</script>",
                content_type="text/html",
            ),
        )
        tab.popup = popup
        tab.goto(f"{url}/settings?{admin_query(SHOP, session_token(SHOP, exp_in=600))}")
        yield tab
        context.close()


def _connection(make) -> tuple[Shop, WhatsAppConnection | None]:
    with Session(make.engine) as session:
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP))
        return shop, session.get(WhatsAppConnection, shop.id)


def test_a_brand_new_number_is_registered_and_its_pin_shown_once(make, meta, request):
    """FINISH for a PENDING number: registered with a new PIN, shown once; then connected."""
    make.shop(SHOP, meta_phone_number_id=None)
    page = request.getfixturevalue("signup")  # opened once the shop exists
    page.popup.update(
        code="demo-new-number-code",
        message={
            "type": "WA_EMBEDDED_SIGNUP",
            "event": "FINISH",
            "data": {"phone_number_id": "1234567892", "waba_id": "5550003", "business_id": "7770003"},
        },
    )
    page.get_by_role("button", name="Connect with Facebook").click()
    pin_line = page.locator("[data-wa-pin]")
    pin_line.wait_for()
    pin = pin_line.inner_text().strip()
    assert re.fullmatch(r"[0-9]{6}", pin)
    assert "is now registered on WhatsApp" in page.locator("[data-wa-result]").inner_text()
    options = page.evaluate("JSON.parse(sessionStorage.getItem('fbLogin'))")
    assert options["config_id"] == "424242" and options["extras"] == {}  # v4: no sessionInfoVersion
    _, row = _connection(make)
    assert decrypt_token(row.two_step_pin_ciphertext) == pin
    screenshot(page, "signup-v4-pin")

    page.get_by_role("button", name="I have kept the PIN").click()
    page.get_by_text("Demo Shop Studio").wait_for()
    assert page.locator('[data-wa="phone_number_id"]').inner_text() == "1234567892"
    assert (
        "Registered on the WhatsApp Cloud API by this app"
        in page.locator('[data-wa="registered_at"]').inner_text()
    )
    assert page.locator('[data-wa="name_status"]').inner_text() == "Under review by Meta"
    assert pin not in page.content()  # shown once, never again
    screenshot(page, "signup-v4-connected")


def test_closing_the_popup_or_an_error_from_meta_is_said_in_words(make, meta, request):
    """CANCEL at a step, CANCEL with Meta's error, FINISH_ONLY_WABA: each in words; nothing stored."""
    make.shop(SHOP, meta_phone_number_id=None)
    page = request.getfixturevalue("signup")
    result = page.locator("[data-wa-result]")
    page.popup.update(
        message={
            "type": "WA_EMBEDDED_SIGNUP",
            "event": "CANCEL",
            "data": {"current_step": "PHONE_NUMBER_VERIFICATION"},
        }
    )
    page.get_by_role("button", name="Connect with Facebook").click()
    result.get_by_text(
        "You closed Facebook's sign-in at the step \u201cphone number verification\u201d"
    ).wait_for()
    page.wait_for_timeout(300)  # the login callback that follows keeps these words
    assert "phone number verification" in result.inner_text()
    screenshot(page, "signup-v4-cancelled")

    page.popup.update(
        message={
            "type": "WA_EMBEDDED_SIGNUP",
            "event": "CANCEL",
            "data": {"error_message": "Your business portfolio is restricted", "error_id": "524126"},
        }
    )
    page.get_by_role("button", name="Connect with Facebook").click()
    result.get_by_text(
        "Meta stopped the sign-in with an error: Your business portfolio is restricted"
    ).wait_for()
    assert "Meta's error 524126" in result.inner_text()

    page.popup.update(
        message={"type": "WA_EMBEDDED_SIGNUP", "event": "FINISH_ONLY_WABA", "data": {"waba_id": "5550003"}}
    )
    page.get_by_role("button", name="Connect with Facebook").click()
    result.get_by_text("set up without a phone number").wait_for()
    shop, row = _connection(make)
    assert shop.meta_phone_number_id is None and row is None


def test_a_whatsapp_business_app_number_connects_without_a_pin(make, meta, request):
    """FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING: Meta registered the number itself, so no PIN is
    made or shown; Settings shows it connected at 20 messages a second."""
    make.shop(SHOP, meta_phone_number_id=None)
    page = request.getfixturevalue("signup")
    page.popup.update(
        code="demo-business-app-code",
        message={
            "type": "WA_EMBEDDED_SIGNUP",
            "event": "FINISH_WHATSAPP_BUSINESS_APP_ONBOARDING",
            "data": {"phone_number_id": "1234567893", "waba_id": "5550004", "business_id": "7770004"},
        },
    )
    page.get_by_role("button", name="Connect with Facebook").click()
    page.get_by_text("Demo Shop Corner").wait_for()
    assert "20 messages a second" in page.locator('[data-wa="throughput"]').inner_text()
    assert page.locator("[data-wa-pin]").count() == 0
    assert page.locator('[data-wa="registered_at"]').count() == 0
    _, row = _connection(make)
    assert row.two_step_pin_ciphertext is None and row.on_business_app is True
