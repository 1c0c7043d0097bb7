"""A merchant's first day, in one headless chromium session against the real app and both
stand-ins: a shop the app never saw opens it from the Shopify admin (installed, customers
imported), buys a pack of credits through Shopify's approval page (credited once), connects a
brand-new number through Embedded Signup v4 (registered on the Cloud API, its PIN shown once),
and launches its first campaign, which Meta receives from that number."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import CreditMovement, Message, Shop, WhatsAppConnection
from sim.meta.config import DEMO_APP_ID
from tests.browser import admin_query, chromium, offline_cdn, screenshot, serve
from tests.test_browser_signup_v4 import FAKE_SDK
from tests.tokens import bearer, session_token

pytestmark = pytest.mark.browser

SHOP = "firstday.myshopify.com"
ADMIN_APP = "https://admin.shopify.com/store/firstday/apps/"
NEW_NUMBER, NEW_WABA = "1234567892", "5550003"


@pytest.fixture
def page(meta, shopify, service_urls):
    from web import create_app

    app = create_app(
        {"APP_ENV": "test", "TESTING": True, "META_APP_ID": DEMO_APP_ID, "META_CONFIG_ID": "424242"}
    )
    popup = {
        "code": "demo-new-number-code",
        "message": {
            "type": "WA_EMBEDDED_SIGNUP",
            "event": "FINISH",
            "data": {"phone_number_id": NEW_NUMBER, "waba_id": NEW_WABA, "business_id": "7770003"},
        },
    }
    with serve(app) as url, chromium() as browser:
        shopify.configure(webhook_url=f"{url}/webhooks/shopify")
        meta.configure(webhook_url=f"{url}/webhooks/meta")
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        tab = context.new_page()
        offline_cdn(tab)
        # Meta's JS SDK and its popup, as the v4 flow plays them (tests/test_browser_signup_v4.py).
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

        def admin(route):  # the Shopify admin loading the app's path back in its frame
            target = urlsplit(route.request.url)
            path = target.path.removeprefix(urlsplit(ADMIN_APP).path).split("/", 1)[1]
            query = admin_query(SHOP, session_token(SHOP, exp_in=600), **dict(parse_qsl(target.query)))
            route.fulfill(status=302, headers={"Location": f"{url}/{path}?{query}"})

        tab.route(ADMIN_APP + "**", admin)
        tab.base_url = url
        yield tab
        context.close()


def _open(page, path: str) -> None:
    page.goto(f"{page.base_url}{path}?{admin_query(SHOP, session_token(SHOP, exp_in=600))}")


def test_install_buy_credits_connect_a_new_number_and_send_the_first_campaign(
    page, client, make, meta, shopify, run_jobs
):
    _open(page, "/")  # the first open from the admin installs the shop
    run_jobs()  # the customer import
    with Session(make.engine) as session:
        shop = session.scalar(select(Shop).where(Shop.domain == SHOP))
        assert shop is not None and shop.credits == 0 and shop.meta_phone_number_id is None

    _open(page, "/settings")
    page.get_by_role("button", name="Buy credits: 1,000 for 10.00 USD").click()
    page.get_by_role("heading", name="Approve a one-time charge").wait_for()
    page.get_by_role("button", name="Approve").click()
    page.get_by_text("1,000 credits added.").wait_for()
    shopify.wait_for_webhooks()
    run_jobs()  # the purchase webhook's read-back: credited once all the same

    page.get_by_role("button", name="Connect with Facebook").click()
    pin = page.locator("[data-wa-pin]")
    pin.wait_for()
    shown_pin = pin.inner_text().strip()
    assert re.fullmatch(r"[0-9]{6}", shown_pin)
    page.get_by_role("button", name="I have kept the PIN").click()
    page.locator('[data-wa="phone_number_id"]').filter(has_text=NEW_NUMBER).wait_for()
    screenshot(page, "first-day-connected")

    created = client.post(
        "/api/campaigns",
        json={"name": "Hello from us", "template": {"name": "weekly_offer", "language": "en"}},
        headers=bearer(SHOP),
    )
    assert created.status_code == 201, created.json
    audience = created.json["estimated_audience"]
    assert 0 < audience <= 1000
    _open(page, f"/campaigns/{created.json['id']}")
    page.get_by_role("button", name="Launch now").click()
    page.get_by_role("button", name=re.compile(r"^Launch to \d+ recipients?$")).click()
    page.locator("[data-live-status]").filter(has_text="Live").wait_for()
    run_jobs()
    screenshot(page, "first-day-sent")

    with Session(make.engine) as session:
        grants = session.scalars(
            select(CreditMovement.amount).where(
                CreditMovement.shop_id == shop.id, CreditMovement.kind == "grant"
            )
        ).all()
        sent = session.scalars(
            select(Message.wamid).where(Message.campaign_id == created.json["id"], Message.wamid.is_not(None))
        ).all()
        number = session.get(Shop, shop.id).meta_phone_number_id
        connection = session.get(WhatsAppConnection, shop.id)
    assert number == NEW_NUMBER  # sent from the new number: Meta refuses an unregistered one (133010)
    assert connection.registered_at is not None and connection.two_step_pin_ciphertext
    assert shown_pin.encode() not in connection.two_step_pin_ciphertext  # kept encrypted
    assert grants == [1000]  # credited once: the return and the webhook
    truth = meta.truth()["messages"]
    assert sent and all(wamid in truth for wamid in sent)
    assert {truth[w]["to"] for w in sent} and len(meta.sends()) == len(sent)
