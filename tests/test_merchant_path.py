"""A new merchant's whole path against both stand-ins (Shopify's 2026-10 schema, Meta's Graph
shapes): install from the app home, customers imported with WhatsApp consent from the real
fields, a phone fixed with customerUpdate, WhatsApp connected through PUT /api/whatsapp (our
app subscribed on the WABA), and a first draft whose estimate counts only WhatsApp-subscribed
customers."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Customer, Shop
from tests.browser import admin_query
from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, WABA_ID
from tests.tokens import bearer, session_token

SHOP = "demo.myshopify.com"
PEOPLE = [
    {
        "shopify_id": 1,
        "first_name": "Ana",
        "phone": "+34612000001",
        "country_code": "ES",
        "consent": "SUBSCRIBED",
    },
    # SMS consent is not WhatsApp consent (unless the shop says so in Settings).
    {
        "shopify_id": 2,
        "first_name": "Ben",
        "phone": "+34612000002",
        "country_code": "ES",
        "consent": "NOT_SUBSCRIBED",
        "sms_consent": "SUBSCRIBED",
    },
    # Saved without the calling code: fixable from her Spanish address.
    {
        "shopify_id": 3,
        "first_name": "Lucía",
        "phone": "612 34 56 79",
        "country_code": "ES",
        "consent": "SUBSCRIBED",
    },
]


def _customers(make) -> dict[int, Customer]:
    with Session(make.engine) as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.domain == SHOP))
        rows = session.scalars(select(Customer).where(Customer.shop_id == shop_id)).all()
        return {c.shopify_customer_id: c for c in rows}


def test_a_new_merchant_gets_from_install_to_a_first_draft(shopify, meta, client, make, run_jobs):
    """Install, import, fix a phone, connect WhatsApp, create a draft: each through its real interface."""
    shopify.put_customers(SHOP, PEOPLE)
    home = client.get("/?" + admin_query(SHOP, session_token(SHOP)))
    assert home.status_code == 200
    assert "Connect your WhatsApp Business number to send campaigns" in home.get_data(as_text=True)
    run_jobs()  # the import the install queued
    assert {i: c.consent for i, c in _customers(make).items()} == {
        1: "SUBSCRIBED",
        2: "NOT_SUBSCRIBED",
        3: "SUBSCRIBED",
    }

    fixed = client.post("/api/customers/3/fix-phone", headers=bearer(SHOP))
    assert fixed.status_code == 200, fixed.json
    assert shopify.customer(SHOP, 3)["phone"] == "+34612345679"

    connected = client.put(
        "/api/whatsapp",
        json={"waba_id": WABA_ID, "phone_number_id": PHONE_NUMBER_ID, "access_token": TOKEN},
        headers=bearer(SHOP),
    )
    assert connected.status_code == 200, connected.json
    assert connected.json["webhooks_subscribed"] is True

    draft = client.post(
        "/api/campaigns",
        json={"name": "First campaign", "template": {"name": "order_update", "language": "en"}},
        headers=bearer(SHOP),
    )
    assert draft.status_code == 201, draft.json
    assert draft.json["status"] == "DRAFT"
    assert draft.json["estimated_audience"] == 2  # Ana and Lucía; Ben gave SMS consent only
