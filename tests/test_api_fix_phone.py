"""``POST /api/customers/<shopify_customer_id>/fix-phone`` against the Shopify stand-in:
success (given number or our suggestion), Shopify's userErrors as 422, our own validation,
no suggestion, another shop's customer, and the report cache."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Customer
from core.redis import get_redis
from tests.shopify_stand_in import installed_shop
from tests.tokens import bearer

SHOP = "demo.myshopify.com"
LOPEZ, TAKEN_BY = 7001, 7002


@pytest.fixture
def world(shopify, make):
    """A shop installed on the stand-in; Lucía (subscribed to WhatsApp marketing in Shopify)
    has a phone that lacks its calling code, in Shopify and here, and her message failed for it."""
    shopify.put_customers(
        SHOP,
        [
            {
                "shopify_id": LOPEZ,
                "first_name": "Lucía",
                "last_name": "Lopez",
                "phone": "612 34 56 79",
                "country_code": "ES",
                "consent": "SUBSCRIBED",
            },
            {"shopify_id": TAKEN_BY, "first_name": "Marta", "phone": "+34612345670", "country_code": "ES"},
        ],
    )
    shop = installed_shop(make, shopify, SHOP)
    lopez = make.customer(
        shop,
        shopify_customer_id=LOPEZ,
        first_name="Lucía",
        last_name="Lopez",
        phone="612 34 56 79",
        country_code="ES",
    )
    campaign = make.campaign(shop, "Autumn sale", status="PARTIALLY_SENT")
    make.message(
        campaign, lopez, status="failed", phone="612 34 56 79", error_code="CUSTOMER_IS_MISSING_CALLING_CODE"
    )
    make.recount(campaign)
    return {"shop": shop, "lopez": lopez, "campaign": campaign}


def _fix(client, customer_id=LOPEZ, body=None, shop=SHOP):
    kwargs = {"json": body} if body is not None else {}
    return client.post(f"/api/customers/{customer_id}/fix-phone", headers=bearer(shop), **kwargs)


def _ours(make, shopify_id=LOPEZ) -> Customer:
    with Session(make.engine) as session:
        return session.scalar(select(Customer).where(Customer.shopify_customer_id == shopify_id))


def test_a_given_number_is_written_to_shopify_and_to_our_customer(world, shopify, client, make):
    """200 with the updated customer; Shopify holds the number; so do we, in E.164."""
    response = _fix(client, body={"phone": "+34612345679"})
    assert response.status_code == 200
    assert response.get_json() == {
        "shopify_id": LOPEZ,
        "name": "Lucía Lopez",
        "phone": "+34612345679",
        "phone_e164": "+34612345679",
        "country_code": "ES",
        "phone_problem": None,
        # Shopify's consent for the number, as its answer carries it (she subscribed there).
        "consent": {
            "state": "SUBSCRIBED",
            "updated_at": "2026-01-01T00:00:00+00:00",
            "source": "shopify",
            "write_back": None,
        },
        "warnings": [],
    }
    assert shopify.customer(SHOP, LOPEZ)["phone"] == "+34612345679"
    assert _ours(make).phone_e164 == "+34612345679" and _ours(make).shopify_updated_at is not None


def test_an_empty_body_applies_the_suggestion_from_the_address_country(world, shopify, client, make):
    """No body: the stored number read as Spanish (the address country) is written."""
    response = _fix(client)
    assert response.status_code == 200 and response.get_json()["phone"] == "+34612345679"
    assert shopify.customer(SHOP, LOPEZ)["phone"] == "+34612345679"


def test_shopify_user_errors_answer_422_and_change_nothing(world, shopify, client, make):
    """A number another customer already has: Shopify's userErrors, as 422; nothing changes."""
    response = _fix(client, body={"phone": "+34612345670"})
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "shopify_user_errors",
        "errors": [{"field": ["phone"], "message": "Phone has already been taken"}],
    }
    assert _ours(make).phone == "612 34 56 79" and shopify.customer(SHOP, LOPEZ)["phone"] == "612 34 56 79"


@pytest.mark.parametrize("phone", ["612 34 56 79", "+3461", "+999123456789", "call me", 34612345679, ""])
def test_an_invalid_number_is_refused_before_shopify_is_asked(world, shopify, client, make, phone):
    """Not international, too short, no such country, not a number: 422 invalid_phone, and no
    request reaches Shopify."""
    before = shopify.stats().get("graphql", 0)
    response = _fix(client, body={"phone": phone})
    assert response.status_code == 422 and response.get_json()["error"] == "invalid_phone"
    assert response.get_json()["errors"][0]["field"] == ["phone"]
    assert shopify.stats().get("graphql", 0) == before


def test_no_suggestion_without_an_address_country(world, shopify, client, make):
    """A customer with no address country gives no suggestion: 422 no_suggestion, clearly."""
    make.customer(world["shop"], shopify_customer_id=7003, phone="612 34 56 71", country_code=None)
    response = _fix(client, customer_id=7003)
    assert response.status_code == 422 and response.get_json()["error"] == "no_suggestion"
    assert "country code" in response.get_json()["errors"][0]["message"]


def test_another_shops_customer_is_404(world, shopify, client, make):
    """The same Shopify id in another shop's token: 404, and Shopify is not asked."""
    installed_shop(make, shopify, "other.myshopify.com")
    response = _fix(client, body={"phone": "+34612345679"}, shop="other.myshopify.com")
    assert response.status_code == 404
    assert shopify.customer(SHOP, LOPEZ)["phone"] == "612 34 56 79"


def test_a_body_that_is_not_an_object_is_a_clear_400(world, client):
    """A JSON list is neither empty nor {"phone": ...}: 400 saying what the body must be."""
    response = _fix(client, body=["+34612345679"])
    assert response.status_code == 400 and "phone" in response.get_json()["message"]


def test_a_fix_refreshes_the_campaigns_calling_code_report(world, shopify, client):
    """The cached count of customers now valid is forgotten at once: the next read counts the fix."""
    campaign = world["campaign"]
    before = client.get(f"/api/campaigns/{campaign.id}", headers=bearer(SHOP))
    assert before.status_code == 200
    keys = get_redis().keys(f"report:v1:calling_code:{campaign.shop_id}:{campaign.id}:*")
    assert len(keys) == 1
    assert _fix(client).status_code == 200
    assert get_redis().exists(*keys) == 0
    page = client.get(f"/campaigns/{campaign.id}/messages?" + _admin_query())
    assert b"Number now valid" in page.data


def test_a_shop_whose_access_lapsed_is_told_to_open_the_app(shopify, client, make):
    """No usable offline token and no refresh: 409 naming what to do, nothing written."""
    shop = make.shop(SHOP)
    make.customer(shop, shopify_customer_id=LOPEZ, phone="612 34 56 79", country_code="ES")
    response = _fix(client)
    assert response.status_code == 409 and response.get_json()["error"] == "shopify_reauthorization_required"


def _admin_query() -> str:
    from tests.browser import admin_query
    from tests.tokens import session_token

    return admin_query(SHOP, session_token(SHOP))
