"""A phone fix keeps the customer's consent true: ``customerUpdate``'s answer carries both of
Shopify's consents for the number (SMS and WhatsApp marketing), we store what Shopify answers,
and when the fix cost the customer their consent the merchant is warned, on the one-click fix
and on "Fix all" (Shopify stand-in, whose schema is Shopify's 2026-10 schema)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.models import Customer
from jobs.customer_import import sync_customers
from tests.shopify_stand_in import installed_shop
from tests.tokens import bearer

SHOP = "demo.myshopify.com"
LUCIA = 7001
CALLING = "CUSTOMER_IS_MISSING_CALLING_CODE"


@pytest.fixture
def world(shopify, make):
    """Lucía subscribed to WhatsApp and SMS marketing in Shopify, imported here; her phone
    lacks its calling code and her message of "Autumn sale" failed for it."""
    shopify.put_customers(
        SHOP,
        [
            {
                "shopify_id": LUCIA,
                "first_name": "Lucía",
                "last_name": "Lopez",
                "phone": "612 34 56 79",
                "country_code": "ES",
                "consent": "SUBSCRIBED",
                "sms_consent": "SUBSCRIBED",
            }
        ],
    )
    shop = installed_shop(make, shopify, SHOP)
    assert sync_customers(shop.id)["status"] == "done"
    lucia = _ours(make)
    assert (lucia.consent, lucia.sms_consent, lucia.consent_source) == ("SUBSCRIBED", "SUBSCRIBED", "shopify")
    campaign = make.campaign(shop, "Autumn sale", status="PARTIALLY_SENT")
    make.message(campaign, lucia, status="failed", phone="612 34 56 79", error_code=CALLING)
    make.recount(campaign)
    return {"shop": shop, "campaign": campaign}


def _ours(make) -> Customer:
    with Session(make.engine) as session:
        return session.scalar(select(Customer).where(Customer.shopify_customer_id == LUCIA))


def _fix(client):
    return client.post(
        f"/api/customers/{LUCIA}/fix-phone", json={"phone": "+34612345679"}, headers=bearer(SHOP)
    )


def test_a_fix_stores_the_consents_shopify_answers(world, shopify, client, make):
    """Our copy of Lucía's WhatsApp consent is stale (Shopify has her subscribed since a date we
    missed): the fix's answer brings Shopify's consent and its date; nothing was lost, so no
    warning."""
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Customer)
            .where(Customer.shopify_customer_id == LUCIA)
            .values(consent="NOT_SUBSCRIBED", consent_updated_at=datetime(2025, 12, 1, tzinfo=UTC))
        )
    shopify_consent = shopify.customer(SHOP, LUCIA)["whatsapp"]
    response = _fix(client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["phone_e164"] == "+34612345679"
    assert body["consent"] == {
        "state": "SUBSCRIBED",
        "updated_at": datetime.fromisoformat(shopify_consent["updated_at"]).isoformat(),
        "source": "shopify",
        "write_back": None,
    }
    assert body["warnings"] == []
    assert (_ours(make).consent, _ours(make).sms_consent) == ("SUBSCRIBED", "SUBSCRIBED")


def test_a_fix_that_resets_consent_is_stored_and_warned_about(world, shopify, client, make):
    """Shopify drops both consents with the new number: the answer says so, we store it (she is
    no longer a recipient) and the merchant is told, channel by channel."""
    shopify.configure(phone_change_resets_consent=True)
    response = _fix(client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["consent"] == {
        "state": "NOT_SUBSCRIBED",
        "updated_at": None,
        "source": "shopify",
        "write_back": None,
    }
    assert [(w["code"], w["channel"], w["before"], w["after"]) for w in body["warnings"]] == [
        ("CONSENT_RESET", "whatsapp", "SUBSCRIBED", "NOT_SUBSCRIBED"),
        ("CONSENT_RESET", "sms", "SUBSCRIBED", "NOT_SUBSCRIBED"),
    ]
    assert "WhatsApp marketing consent" in body["warnings"][0]["message"]
    assert (_ours(make).consent, _ours(make).sms_consent) == ("NOT_SUBSCRIBED", "NOT_SUBSCRIBED")
    estimate = client.post("/api/audience/estimate", json={}, headers=bearer(SHOP))
    assert estimate.status_code == 200 and estimate.get_json()["estimated_audience"] == 0


def test_fix_all_says_when_a_fix_reset_consent(world, shopify, client, make, run_jobs):
    """ "Fix all" marks Lucía fixed, and its row says her consent was reset by the change."""
    shopify.configure(phone_change_resets_consent=True)
    campaign = world["campaign"]
    assert client.post(f"/api/campaigns/{campaign.id}/fixes", headers=bearer(SHOP)).status_code == 202
    run_jobs()
    (row,) = client.get(f"/api/campaigns/{campaign.id}/fixes", headers=bearer(SHOP)).get_json()["rows"]
    assert row["state"] == "fixed"
    assert "WhatsApp marketing consent" in row["reason"] and "SMS marketing consent" in row["reason"]
    assert _ours(make).consent == "NOT_SUBSCRIBED"
