"""customers/data_request is fulfilled: the Settings page lists open requests, the customer's
data downloads as JSON, and a request marked done leaves the list."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import CustomerDataRequest
from tests.browser import admin_query, chromium, offline_cdn, serve
from tests.shopify_webhooks import SHOP, post
from tests.tokens import bearer, session_token


@pytest.fixture
def requested(client, make, run_jobs):
    """A shop whose customer Ana asked for her data through Shopify."""
    shop = make.shop(SHOP, access_token_ciphertext=encrypt_token("shpat_x"))
    make.customer(shop, shopify_customer_id=23, first_name="Ana", phone="+34612345678", tags=["vip"])
    body = {"shop_domain": SHOP, "orders_requested": [5], "customer": {"id": 23}, "data_request": {"id": 9}}
    post(client, "customers/data_request", body)
    run_jobs()
    with Session(make.engine) as session:
        return shop, session.scalar(select(CustomerDataRequest.id))


def _settings_text(client) -> str:
    html = client.get("/settings?" + admin_query(SHOP, session_token(SHOP))).get_data(as_text=True)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_open_requests_show_on_the_settings_page(client, requested):
    """The Settings page names each open request with its customer and a way to download it."""
    text = _settings_text(client)
    assert "Customer data requests" in text and "23" in text and "Download" in text


def test_the_download_holds_what_we_keep_about_the_customer(client, requested):
    """The download is a JSON attachment with the customer's data and the request's details."""
    _, request_id = requested
    response = client.get(f"/api/data-requests/{request_id}", headers=bearer(SHOP))
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    data = response.get_json()
    assert data["customer"]["first_name"] == "Ana" and data["customer"]["tags"] == ["vip"]
    assert data["request"]["data_request_id"] == 9 and data["request"]["orders_requested"] == [5]


def test_marking_a_request_done_removes_it_from_the_list(client, requested):
    """After Mark as done the request is no longer open, on the page or in the API."""
    _, request_id = requested
    assert client.post(f"/api/data-requests/{request_id}/done", headers=bearer(SHOP)).status_code == 204
    assert client.get("/api/data-requests", headers=bearer(SHOP)).get_json()["data_requests"] == []
    assert "Customer data requests" in _settings_text(client)
    assert "No open requests" in _settings_text(client)


def test_another_shop_cannot_see_or_close_a_request(client, make, requested):
    """A request belongs to its shop: another shop's token gets 404 for it."""
    _, request_id = requested
    make.shop("other.myshopify.com")
    other = bearer("other.myshopify.com")
    assert client.get(f"/api/data-requests/{request_id}", headers=other).status_code == 404
    assert client.post(f"/api/data-requests/{request_id}/done", headers=other).status_code == 404
    assert client.get("/api/data-requests", headers=other).get_json()["data_requests"] == []


def test_the_download_lists_every_message_held_about_the_customer(client, make, run_jobs):
    """The download lists each message held about the customer, one record per message (the
    number messaged, its times and status, its clicks, the orders it won, the campaign),
    messages left by an earlier customer record of the same number that Shopify deleted
    included, and the customer's consent; another customer's messages are not in it."""
    from datetime import UTC, datetime, timedelta

    from core.models import Click
    from tests.orders import order_body

    now = datetime.now(UTC).replace(microsecond=0)
    shop = make.shop(SHOP, access_token_ciphertext=encrypt_token("shpat_x"), currency="EUR")
    ana = make.customer(
        shop,
        shopify_customer_id=23,
        phone="+34612345678",
        phone_e164="+34612345678",
        consent="SUBSCRIBED",
        consent_updated_at=now - timedelta(days=30),
        consent_source="whatsapp",
    )
    earlier = make.customer(shop, shopify_customer_id=24, phone="+34 612 34 56 78", phone_e164="+34612345678")
    other = make.customer(shop, shopify_customer_id=25, phone="+34699999999")
    spring, summer = make.campaign(shop, "Spring"), make.campaign(shop, "Summer")
    read_at = now - timedelta(days=2)
    clicked = make.message(
        spring,
        ana,
        status="read",
        phone="+34612345678",
        wamid="wamid.ana",
        sent_at=read_at,
        delivered_at=read_at,
        read_at=read_at,
    )
    make.message(
        summer, earlier, status="failed", phone="+34612345678", wamid="wamid.earlier", error_code="131049"
    )
    make.message(summer, other, status="delivered", phone="+34699999999", wamid="wamid.other")
    with Session(make.engine) as session, session.begin():
        session.add(Click(shop_id=shop.id, message_id=clicked.id, kind="url_button", clicked_at=read_at))
    post(client, "orders/create", order_body(7001, 23, "30.00", now - timedelta(days=1)))
    post(client, "customers/delete", {"id": 24})
    run_jobs()
    post(
        client,
        "customers/data_request",
        {"shop_domain": SHOP, "customer": {"id": 23}, "data_request": {"id": 9}},
    )
    run_jobs()

    with Session(make.engine) as session:
        request_id = session.scalar(select(CustomerDataRequest.id))
    data = client.get(f"/api/data-requests/{request_id}", headers=bearer(SHOP)).get_json()
    messages = {m["campaign"]["name"]: m for m in data["messages"]}
    assert set(messages) == {"Spring", "Summer"}
    spring_record = messages["Spring"]
    assert spring_record["phone"] == "+34612345678" and spring_record["status"] == "read"
    assert spring_record["read_at"] == read_at.isoformat()
    assert [c["kind"] for c in spring_record["clicks"]] == ["url_button"]
    assert [o["shopify_order_id"] for o in spring_record["attributed_orders"]] == [7001]
    summer_record = messages["Summer"]
    assert summer_record["phone"] == "+34612345678" and summer_record["status"] == "failed"
    assert summer_record["error"]["code"] == "131049"
    assert summer_record["customer_record"] == "deleted"
    assert data["consent"]["whatsapp"]["state"] == "SUBSCRIBED"
    assert data["consent"]["whatsapp"]["source"] == "whatsapp"


@pytest.mark.browser
def test_the_last_request_marked_done_leaves_the_empty_state_in_the_browser(make, requested, service_urls):
    """Marking the only open request done in the page swaps the table for "No open requests"."""
    from web import create_app

    with serve(create_app({"APP_ENV": "test", "TESTING": True})) as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        offline_cdn(page)
        page.goto(f"{url}/settings?{admin_query(SHOP, session_token(SHOP, exp_in=600))}")
        page.locator("[data-requests-section]").get_by_role("button", name="Mark as done").click()
        page.locator("[data-requests-empty]").wait_for()
        assert page.locator("[data-requests-table]").count() == 0
        assert page.locator("[data-requests-empty]").inner_text() == "No open requests."
