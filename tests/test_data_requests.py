"""customers/data_request is fulfilled: the Settings page lists open requests, the customer's
data downloads as JSON, and a request marked done leaves the list."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import CustomerDataRequest
from tests.browser import admin_query
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
