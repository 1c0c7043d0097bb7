"""The Shopify stand-in's billing, over HTTP: one-time purchases in the published schema's
shape, visible only to their own shop, the development-store rule, the approval page's choices,
and the signed ``app_purchases_one_time/update`` webhook reaching a served app, whose worker
credits the purchase once."""

from __future__ import annotations

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import CreditMovement, InboxEvent
from core.shopify.topics import purchase_gid
from tests.browser import serve
from tests.shopify_examples import example_body
from tests.shopify_stand_in import installed_shop
from tests.tokens import bearer

SHOP, OTHER = "demo.myshopify.com", "other-shop.myshopify.com"
CREATE = """
mutation($test: Boolean) {
  appPurchaseOneTimeCreate(name: "1,000 credits", price: {amount: "10.00", currencyCode: USD},
                           returnUrl: "https://admin.shopify.com/store/demo/apps/x", test: $test) {
    appPurchaseOneTime { id name status test createdAt price { amount currencyCode } }
    confirmationUrl
    userErrors { field message }
  }
}
"""
NODE = "query($id: ID!) { node(id: $id) { ... on AppPurchaseOneTime { id status test } } }"
RECENT = """
query { currentAppInstallation { oneTimePurchases(first: 5, sortKey: CREATED_AT, reverse: true) {
  nodes { id status } } } }
"""


def _graphql(shopify, token, query, variables=None) -> dict:
    response = requests.post(
        f"{shopify.url}/admin/api/2026-10/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token},
        timeout=10,
    )
    assert response.status_code == 200
    return response.json()


def test_purchases_are_shaped_as_shopifys_and_seen_by_their_shop_only(shopify):
    mine, theirs = shopify.exchange(SHOP)["access_token"], shopify.exchange(OTHER)["access_token"]
    created = _graphql(shopify, mine, CREATE, {"test": True})["data"]["appPurchaseOneTimeCreate"]
    purchase = created["appPurchaseOneTime"]
    assert purchase["id"].startswith("gid://shopify/AppPurchaseOneTime/") and created["userErrors"] == []
    assert (purchase["status"], purchase["test"], purchase["price"]) == (
        "PENDING",
        True,
        {"amount": "10.00", "currencyCode": "USD"},
    )
    assert _graphql(shopify, mine, NODE, {"id": purchase["id"]})["data"]["node"]["status"] == "PENDING"
    assert _graphql(shopify, theirs, NODE, {"id": purchase["id"]})["data"]["node"] is None
    assert (
        _graphql(shopify, theirs, RECENT)["data"]["currentAppInstallation"]["oneTimePurchases"]["nodes"] == []
    )

    declined = requests.post(created["confirmationUrl"] + "/decline", allow_redirects=False, timeout=10)
    assert declined.status_code == 303 and "charge_id=" in declined.headers["Location"]
    # A decided purchase stays as decided.
    requests.post(created["confirmationUrl"] + "/approve", allow_redirects=False, timeout=10)
    nodes = _graphql(shopify, mine, RECENT)["data"]["currentAppInstallation"]["oneTimePurchases"]["nodes"]
    assert nodes == [{"id": purchase["id"], "status": "DECLINED"}]


def test_the_stand_ins_webhook_body_is_shaped_as_shopifys_published_example(client, make, shopify):
    """The stand-in's app_purchases_one_time/update body has exactly the keys of Shopify's
    published example (tests/fixtures/shopify/webhook-examples), and the app reads the
    purchase id from that example as from the stand-in's."""
    installed_shop(make, shopify, SHOP, credits=0)
    published = example_body("app_purchases_one_time/update")
    confirmation_url = client.post(
        "/api/credits/purchase", json={"pack": "credits_1000"}, headers=bearer(SHOP)
    ).get_json()["confirmation_url"]
    number = confirmation_url.rsplit("/", 1)[-1]
    ours = shopify.http.get(f"{shopify.url}/sim/billing/{number}", timeout=10).json()["body"]
    assert set(ours) == set(published) == {"app_purchase_one_time"}
    assert set(ours["app_purchase_one_time"]) == set(published["app_purchase_one_time"])
    assert purchase_gid(published) == "gid://shopify/AppPurchaseOneTime/1017262349"
    assert purchase_gid(ours) == f"gid://shopify/AppPurchaseOneTime/{number}"


def test_a_development_store_accepts_test_charges_only(shopify):
    shopify.configure(development_stores=[SHOP])
    token = shopify.exchange(SHOP)["access_token"]
    plan = _graphql(shopify, token, "query { shop { plan { partnerDevelopment } } }")["data"]["shop"]["plan"]
    assert plan == {"partnerDevelopment": True}
    refused = _graphql(shopify, token, CREATE, {"test": False})["data"]["appPurchaseOneTimeCreate"]
    assert refused["appPurchaseOneTime"] is None and refused["userErrors"][0]["field"] == ["test"]


def test_the_stand_ins_webhook_reaches_the_app_and_credits_once(app, shopify, make, run_jobs):
    """Approve on the stand-in's page: its signed webhook reaches the served app's endpoint,
    and the worker reads the purchase back and grants it; the same webhook again adds nothing."""
    shop = installed_shop(make, shopify, SHOP, credits=0)
    with serve(app) as url:
        shopify.configure(webhook_url=f"{url}/webhooks/shopify")
        bought = requests.post(
            f"{url}/api/credits/purchase", json={"pack": "credits_1000"}, headers=bearer(SHOP), timeout=10
        )
        confirmation_url = bought.json()["confirmation_url"]
        requests.post(confirmation_url + "/approve", allow_redirects=False, timeout=10)
        shopify.wait_for_webhooks()
        run_jobs()
        number = confirmation_url.rsplit("/", 1)[-1]
        body = shopify.http.get(f"{shopify.url}/sim/billing/{number}", timeout=10).json()["body"]
        again = shopify.send_webhook(SHOP, "app_purchases_one_time/update", payload=body)
        assert again["status"] == 200
        run_jobs()
    with Session(make.engine) as session:
        grants = session.scalars(select(CreditMovement.amount).where(CreditMovement.shop_id == shop.id)).all()
        topics = session.scalars(select(InboxEvent.topic)).all()
    assert grants == [1000]
    assert topics == ["app_purchases_one_time/update"]  # the same body again is the same event
