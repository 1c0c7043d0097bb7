"""The Shopify stand-in behaves as Shopify does where the app depends on it: token exchange
and rotating refresh, GraphQL paging and pricing, userErrors, throttling, and signed webhooks
that the app (served for real) verifies, stores and applies."""

from __future__ import annotations

import json

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Customer, InboxEvent
from core.settings import get_settings
from core.shopify import signature
from sim.shopify.config import app_include_fields
from tests.browser import serve
from tests.shopify_stand_in import installed_shop
from tests.tokens import session_token
from tests.waiting import wait_for

SHOP = "demo.myshopify.com"
PAGE = (
    "query($after: String) {"
    " customers(first: 10, after: $after) { pageInfo { hasNextPage endCursor } nodes { id } } }"
)
UPDATE = (
    "mutation($input: CustomerInput!) {"
    " customerUpdate(input: $input) { customer { phone } userErrors { field message } } }"
)


def _graphql(shopify, token, query, variables=None):
    return requests.post(
        f"{shopify.url}/admin/api/2026-10/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": token},
        timeout=10,
    )


def _token_request(shopify, **params):
    settings = get_settings()
    body = {"client_id": settings.shopify_api_key, "client_secret": settings.shopify_api_secret, **params}
    return requests.post(f"{shopify.url}/admin/oauth/access_token", json=body, timeout=10)


def test_exchange_verifies_the_session_token_and_issues_an_expiring_pair(shopify):
    """A session token signed with the app secret gives an hour-long token and a refresh token;
    one signed with another secret is invalid_subject_token; a wrong client secret is refused."""
    answer = shopify.exchange(SHOP)
    assert answer["expires_in"] == 3600 and answer["refresh_token"].startswith("shprt_")
    assert answer["refresh_token_expires_in"] == 90 * 24 * 3600
    forged = _token_request(
        shopify,
        grant_type="urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token=session_token(SHOP, secret="not-the-app-secret"),
        subject_token_type="urn:ietf:params:oauth:token-type:id_token",
        requested_token_type="urn:shopify:params:oauth:token-type:offline-access-token",
        expiring="1",
    )
    assert forged.status_code == 400 and forged.json()["error"] == "invalid_subject_token"
    wrong_client = _token_request(shopify, client_secret="nope", grant_type="refresh_token")
    assert wrong_client.status_code == 401


def test_refresh_rotates_and_spends_the_old_refresh_token(shopify):
    """A refresh answers a new pair; the used refresh token is refused afterwards."""
    first = shopify.exchange(SHOP)
    second = _token_request(shopify, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200 and second.json()["refresh_token"] != first["refresh_token"]
    again = _token_request(shopify, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_customers_page_by_cursor_deterministically(shopify):
    """Every customer once across pages; the same seed serves the same customers after a reset."""
    token = shopify.exchange(SHOP)["access_token"]
    seen, after = [], None
    while True:
        data = _graphql(shopify, token, PAGE, {"after": after}).json()["data"]["customers"]
        seen += [n["id"] for n in data["nodes"]]
        if not data["pageInfo"]["hasNextPage"]:
            break
        after = data["pageInfo"]["endCursor"]
    assert len(seen) == len(set(seen)) == 25
    first = shopify.customers(SHOP)
    shopify.reset()
    assert shopify.customers(SHOP) == first


def test_an_expired_or_unknown_access_token_is_401(shopify):
    """Shopify answers 401 to an expired token and to one it never issued."""
    token = shopify.exchange(SHOP)["access_token"]
    assert _graphql(shopify, token, PAGE).status_code == 200
    shopify.expire_tokens(SHOP)
    assert _graphql(shopify, token, PAGE).status_code == 401
    assert _graphql(shopify, "shpat_never", PAGE).status_code == 401


def test_queries_are_priced_and_refused_over_the_limits(shopify):
    """Cost 2 + first x node; over 1,000 points is MAX_COST_EXCEEDED; over the bucket THROTTLED
    with the bucket's state, both as HTTP 200."""
    token = shopify.exchange(SHOP)["access_token"]
    answer = _graphql(shopify, token, PAGE).json()
    assert answer["extensions"]["cost"]["requestedQueryCost"] == 12
    big = (
        "{ customers(first: 250) { nodes { id defaultAddress { countryCodeV2 }"
        " defaultPhoneNumber { phoneNumber } smsMarketingConsent { marketingState } } } }"
    )
    refused = _graphql(shopify, token, big)
    assert (
        refused.status_code == 200
        and refused.json()["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    )
    shopify.configure(bucket=20, restore_rate=1.0)
    token = shopify.exchange("small.myshopify.com")["access_token"]  # a new shop: a new bucket
    _graphql(shopify, token, PAGE)
    throttled = _graphql(shopify, token, PAGE)
    body = throttled.json()
    assert throttled.status_code == 200 and body["errors"][0]["extensions"]["code"] == "THROTTLED"
    status = body["extensions"]["cost"]["throttleStatus"]
    assert (
        status["maximumAvailable"] == 20
        and status["currentlyAvailable"] < 12
        and status["restoreRate"] == 1.0
    )


def test_customer_update_validates_and_reports_user_errors(shopify):
    """A national number is read in the customer's country and kept in E.164; an invalid one
    and one another customer has are userErrors; a missing customer too."""
    shopify.put_customers(
        SHOP,
        [
            {"shopify_id": 1, "phone": None, "country_code": "ES"},
            {"shopify_id": 2, "phone": "+34612345670", "country_code": "ES"},
        ],
    )
    token = shopify.exchange(SHOP)["access_token"]

    def update(customer_id, phone):
        variables = {"input": {"id": f"gid://shopify/Customer/{customer_id}", "phone": phone}}
        return _graphql(shopify, token, UPDATE, variables).json()["data"]["customerUpdate"]

    assert update(1, "612 34 56 79") == {"customer": {"phone": "+34612345679"}, "userErrors": []}
    assert update(1, "123")["userErrors"] == [{"field": ["phone"], "message": "Phone is invalid"}]
    assert update(1, "+34612345670")["userErrors"] == [
        {"field": ["phone"], "message": "Phone has already been taken"}
    ]
    assert update(99, "+34612345671")["userErrors"] == [
        {"field": ["id"], "message": "Customer does not exist"}
    ]


def test_webhooks_reach_the_served_app_signed_and_are_applied(shopify, make, run_jobs, service_urls):
    """Over real HTTP: the stand-in's signed customers/update (sent by customerUpdate, as
    Shopify does) and a customers/delete are verified, stored and applied by the app."""
    from web import create_app

    shopify.put_customers(
        SHOP, [{"shopify_id": 5, "first_name": "Ana", "phone": "612 34 56 79", "country_code": "ES"}]
    )
    shop = installed_shop(make, shopify, SHOP)
    make.customer(shop, shopify_customer_id=5, first_name="Ana", phone="612 34 56 79", country_code="ES")
    with serve(create_app({"APP_ENV": "test", "TESTING": True})) as url:
        shopify.configure(webhook_url=f"{url}/webhooks/shopify")
        token = shopify.exchange(SHOP)["access_token"]
        mutation = (
            "mutation($input: CustomerInput!) { customerUpdate(input: $input) { userErrors { message } } }"
        )
        _graphql(
            shopify, token, mutation, {"input": {"id": "gid://shopify/Customer/5", "phone": "+34612345679"}}
        )
        shopify.wait_for_webhooks()
        run_jobs()
        with Session(make.engine) as session:
            assert (
                session.scalar(select(Customer.phone_e164).where(Customer.shopify_customer_id == 5))
                == "+34612345679"
            )
        sent = shopify.send_webhook(SHOP, "customers/delete", customer_id=5)
        assert sent["status"] == 200
        run_jobs()
    with Session(make.engine) as session:
        assert session.scalar(select(Customer).where(Customer.shopify_customer_id == 5)) is None
        events = session.scalars(select(InboxEvent).order_by(InboxEvent.id)).all()
    assert [e.topic for e in events] == ["customers/update", "customers/delete"]
    assert [e.outcome for e in events] == ["applied", "applied"]
    assert events[1].headers["X-Shopify-Webhook-Id"] == sent["webhook_id"]
    # Sent as the app subscribes the topic (shopify.app.toml include_fields): no email, no address
    # but the default one's country code.
    update = json.loads(bytes(events[0].body))
    heads = {name.split(".")[0] for name in app_include_fields()["customers/update"]}
    assert set(update) <= heads and "email" not in update
    assert update["phone"] == "+34612345679" and set(update.get("default_address") or {}) <= {"country_code"}


def test_the_stand_ins_signature_is_shopifys(shopify, service_urls):
    """What the stand-in signs verifies with the app's own check (one HMAC scheme, two writers)."""
    received = {}

    def app(environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        received["body"] = environ["wsgi.input"].read(length)
        received["hmac"] = environ.get("HTTP_X_SHOPIFY_HMAC_SHA256")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    with serve(app) as url:
        answer = shopify.send_webhook(SHOP, "shop/redact", url=url, payload={"shop_domain": SHOP, "é": "ü"})
    assert answer["status"] == 200
    assert signature.is_valid(get_settings().shopify_api_secret, received["body"], received["hmac"])
    assert json.loads(received["body"])["é"] == "ü"


def test_the_stand_in_refuses_what_shopifys_schema_refuses_in_shopifys_shape(shopify):
    """A field the 2026-10 schema lacks (the invented consent fields) is an HTTP 200 with
    errors [{message, locations, extensions: {code}}] and no data, as Shopify answers."""
    token = shopify.exchange(SHOP)["access_token"]
    invented = (
        "{ customers(first: 1) { nodes { defaultPhoneNumber {"
        " whatsAppMarketingConsent { marketingState consentUpdatedAt } } } } }"
    )
    answer = _graphql(shopify, token, invented)
    body = answer.json()
    assert answer.status_code == 200 and "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["undefinedField", "undefinedField"]
    assert all(e["locations"] and "CustomerWhatsAppMarketingConsent" in e["message"] for e in body["errors"])


def test_whatsapp_consent_update_follows_the_schemas_input(shopify):
    """customerWhatsAppMarketingConsentUpdate sets the state and time; a read-only state and a
    customer without a phone are userErrors with codes."""
    shopify.put_customers(
        SHOP,
        [{"shopify_id": 1, "phone": "+34612345670", "country_code": "ES"}, {"shopify_id": 2, "phone": None}],
    )
    token = shopify.exchange(SHOP)["access_token"]
    from core.shopify.queries import WHATSAPP_CONSENT_UPDATE as mutation

    def update(customer_id, state):
        consent = {"state": state, "updatedAt": "2026-11-01T10:00:00Z"}
        variables = {
            "input": {
                "customerId": f"gid://shopify/Customer/{customer_id}",
                "whatsAppMarketingConsent": consent,
            }
        }
        return _graphql(shopify, token, mutation, variables).json()["data"][
            "customerWhatsAppMarketingConsentUpdate"
        ]

    done = update(1, "UNSUBSCRIBED")
    assert done["userErrors"] == []
    assert done["customerPhoneNumber"]["whatsAppMarketingConsent"] == {
        "state": "UNSUBSCRIBED",
        "updatedAt": "2026-11-01T10:00:00Z",
    }
    assert update(1, "NEVER_SUBSCRIBED")["userErrors"][0]["code"] == "INVALID"
    assert update(2, "SUBSCRIBED")["userErrors"][0]["code"] == "MISSING_ARGUMENT"


def test_a_bulk_export_validates_its_query_and_runs_one_at_a_time(shopify):
    """An invalid bulk query is a userError (INVALID); a second export while one runs is
    OPERATION_IN_PROGRESS; the finished export's url serves one JSON line per customer."""
    from core.shopify import queries

    shopify.configure(customers=40, bulk_delay_s=0.5)
    token = shopify.exchange(SHOP)["access_token"]

    def run(query):
        answer = _graphql(shopify, token, queries.BULK_RUN_QUERY, {"query": query}).json()
        return answer["data"]["bulkOperationRunQuery"]

    assert run("{ customers { edges { node { marketingState } } } }")["userErrors"][0]["code"] == "INVALID"
    started = run(queries.BULK_CUSTOMERS)
    operation = started["bulkOperation"]["id"]
    second = run(queries.BULK_CUSTOMERS)["userErrors"]

    def finished():
        answer = _graphql(shopify, token, queries.BULK_OPERATION, {"id": operation}).json()
        state = answer["data"]["bulkOperation"]
        return state if state["status"] != "RUNNING" else None

    state = wait_for(finished, 60, "the bulk export to finish")
    assert state["status"] == "COMPLETED" and state["objectCount"] == "40"
    lines = requests.get(state["url"], timeout=10).text.splitlines()
    assert len(lines) == 40 and json.loads(lines[0])["id"].startswith("gid://shopify/Customer/")
    assert [e["code"] for e in second] == ["OPERATION_IN_PROGRESS"]
