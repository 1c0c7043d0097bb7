"""GET /api/customers/<shopify_customer_id>/whatsapp, the customer-page block's data: shape,
consent, the phone's problem and fix, messages newest first with their campaign, the limit,
tenant scoping, and the fix seen again after Apply (Shopify stand-in)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.shopify_stand_in import installed_shop
from tests.tokens import bearer

SHOP, OTHER = "demo.myshopify.com", "other.myshopify.com"
CALLING = "CUSTOMER_IS_MISSING_CALLING_CODE"
T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def _get(client, customer_id, shop=SHOP, **query):
    return client.get(f"/api/customers/{customer_id}/whatsapp", query_string=query, headers=bearer(shop))


@pytest.fixture
def ana(make):
    """Ana: subscribed, a valid phone, and three messages in three campaigns (read, failed at
    Meta, and a newer one still in flight); another customer's message is not hers."""
    shop = make.shop(SHOP)
    ana = make.customer(
        shop,
        shopify_customer_id=101,
        first_name="Ana",
        last_name="Lopez",
        phone="+34 612 34 56 78",
        phone_e164="+34612345678",
        country_code="ES",
        consent="SUBSCRIBED",
        consent_updated_at=T0,
        consent_source="shopify",
    )
    spring, summer, autumn = (
        make.campaign(shop, name) for name in ("Spring sale", "Summer sale", "Autumn sale")
    )
    make.message(spring, ana, status="read", wamid="wamid.a1", sent_at=T0, read_at=T0 + timedelta(hours=1))
    make.message(
        summer, ana, status="failed", wamid="wamid.a2", sent_at=T0, failed_at=T0, error_code="131026"
    )
    make.message(autumn, ana, status="sent", wamid="wamid.a3", sent_at=T0)
    make.message(spring, make.customer(shop, shopify_customer_id=102), status="read", wamid="wamid.b1")
    return {"shop": shop, "customer": ana, "campaigns": (spring, summer, autumn)}


@pytest.mark.smoke
def test_a_consented_customer_with_a_valid_phone(client, ana):
    """The customer block: name, phone as held and in E.164, consent state and time, no fix."""
    response = _get(client, 101)
    assert response.status_code == 200
    body = response.get_json()
    assert body["customer"] == {
        "shopify_id": 101,
        "name": "Ana Lopez",
        "phone": "+34 612 34 56 78",
        "phone_e164": "+34612345678",
        "country_code": "ES",
        "phone_problem": None,
        "consent": {
            "state": "SUBSCRIBED",
            "updated_at": T0.isoformat(),
            "source": "shopify",
            "write_back": None,
        },
    }
    assert body["fix"] is None


def test_messages_are_newest_first_with_their_campaign_and_remedy(client, ana):
    """Only her messages, newest first, each a Message (as in a campaign's list) plus its campaign."""
    spring, summer, autumn = ana["campaigns"]
    messages = _get(client, 101).get_json()["messages"]
    assert [(m["wamid"], m["campaign"]) for m in messages] == [
        ("wamid.a3", {"id": autumn.id, "name": "Autumn sale"}),
        ("wamid.a2", {"id": summer.id, "name": "Summer sale"}),
        ("wamid.a1", {"id": spring.id, "name": "Spring sale"}),
    ]
    failed = messages[1]
    assert failed["status"] == "failed" and failed["fix"] is None
    assert failed["error"]["code"] == "131026" and failed["error"]["category"] == "data_quality"
    assert failed["error"]["title"] and failed["error"]["remedy"]
    listed = client.get(f"/api/campaigns/{summer.id}/messages", headers=bearer()).get_json()["messages"][0]
    assert {k: v for k, v in failed.items() if k != "campaign"} == listed


def test_the_limit_keeps_the_newest(client, ana):
    """?limit=1 answers only the newest message; a limit out of range is a clear 400."""
    assert [m["wamid"] for m in _get(client, 101, limit=1).get_json()["messages"]] == ["wamid.a3"]
    response = _get(client, 101, limit=0)
    assert response.status_code == 400 and "limit" in response.get_json()["message"]


def test_a_phone_missing_its_calling_code_offers_the_fix(client, make):
    """The phone's problem in the taxonomy's words, and the fix: admin link and suggestion."""
    shop = make.shop(SHOP)
    lucia = make.customer(
        shop, shopify_customer_id=201, first_name="Lucía", phone="612 34 56 79", country_code="ES"
    )
    campaign = make.campaign(shop, "Autumn sale")
    make.message(campaign, lucia, status="failed", phone="612 34 56 79", error_code=CALLING)
    body = _get(client, 201).get_json()
    fix = {"admin_url": "shopify://admin/customers/201", "suggested_phone": "+34612345679", "fixed": False}
    assert body["fix"] == fix and body["messages"][0]["fix"] == fix
    problem = body["customer"]["phone_problem"]
    assert problem["code"] == CALLING and problem["category"] == "data_quality" and problem["remedy"]
    assert body["customer"]["phone_e164"] is None


@pytest.mark.parametrize(
    ("phone", "code"), [(None, "CUSTOMER_HAS_NO_PHONE"), ("+999 123", "CUSTOMER_PHONE_IS_INVALID")]
)
def test_other_phone_problems_are_named_without_a_fix(client, make, phone, code):
    """No phone or an invalid one: the problem is named, and there is no calling-code fix."""
    make.customer(make.shop(SHOP), shopify_customer_id=301, phone=phone, country_code="ES")
    body = _get(client, 301).get_json()
    assert body["customer"]["phone_problem"]["code"] == code and body["fix"] is None


def test_a_customer_without_messages(client, make):
    """Never messaged: an empty list, consent as we hold it (unknown, never updated)."""
    make.customer(make.shop(SHOP), shopify_customer_id=401, phone="+34612345678", consent="UNKNOWN")
    body = _get(client, 401).get_json()
    assert body["messages"] == []
    assert body["customer"]["consent"] == {
        "state": "UNKNOWN",
        "updated_at": None,
        "source": None,
        "write_back": None,
    }


def test_another_shops_or_an_unknown_customer_is_404(client, ana, make):
    """The same Shopify id under another shop's token, or an id the shop never had: 404."""
    make.shop(OTHER)
    other = _get(client, 101, shop=OTHER)
    assert other.status_code == 404 and other.get_json()["error"] == "not_found"
    assert "Ana" not in other.get_data(as_text=True)
    assert _get(client, 999).status_code == 404


def test_no_or_a_bad_token_is_401_with_the_retry_header(client, ana):
    """Without a valid session token: 401 asking App Bridge to retry with a fresh one."""
    for headers in ({}, bearer(exp_in=-60), bearer(secret="not-our-secret")):
        response = client.get("/api/customers/101/whatsapp", headers=headers)
        assert response.status_code == 401
        assert response.headers["X-Shopify-Retry-Invalid-Session-Request"] == "1"


def test_after_apply_the_block_shows_the_fixed_phone(shopify, client, make):
    """Apply (fix-phone with no body) writes the suggestion to Shopify; the block then shows the
    number in E.164, no problem and no fix, while the failed message's fix says it is fixed."""
    lucia_in_shopify = {
        "shopify_id": 501,
        "first_name": "Lucía",
        "phone": "612 34 56 79",
        "country_code": "ES",
    }
    shopify.put_customers(SHOP, [lucia_in_shopify | {"consent": "SUBSCRIBED"}])  # as here
    shop = installed_shop(make, shopify, SHOP)
    lucia = make.customer(
        shop, shopify_customer_id=501, first_name="Lucía", phone="612 34 56 79", country_code="ES"
    )
    make.message(make.campaign(shop, "Autumn sale"), lucia, status="failed", error_code=CALLING)
    assert _get(client, 501).get_json()["fix"]["suggested_phone"] == "+34612345679"

    applied = client.post("/api/customers/501/fix-phone", headers=bearer())
    assert applied.status_code == 200, applied.get_json()
    body = _get(client, 501).get_json()
    assert applied.get_json() == body["customer"] | {"warnings": []}
    assert body["customer"]["phone_e164"] == "+34612345679" and body["customer"]["phone_problem"] is None
    assert body["fix"] is None and body["messages"][0]["fix"]["fixed"] is True
