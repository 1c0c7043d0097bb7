"""WhatsApp consent from Shopify's real fields, end to end: a shop installed against the
stand-in (whose schema is Shopify's 2026-10 schema) imports its customers, SMS-only consent
counts only when the shop says so, a draft's estimate counts only who may be messaged, and a
stop given inside WhatsApp is written back to Shopify."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.db import session_scope
from core.models import Customer
from core.shopify.consent_writeback import queue_consent_writeback
from jobs.customer_import import sync_customers, write_back_consents
from tests import meta
from tests.meta_stand_in import demo_connection
from tests.shopify_stand_in import installed_shop
from tests.tokens import bearer

SHOP = "demo.myshopify.com"
PHONE = "1234567890"  # the Meta phone number id the stops arrive for
PEOPLE = [
    {
        "shopify_id": 1,
        "first_name": "Ana",
        "phone": "+34612000001",
        "country_code": "ES",
        "consent": "SUBSCRIBED",
    },
    # SMS consent only: WhatsApp consent never given.
    {
        "shopify_id": 2,
        "first_name": "Ben",
        "phone": "+34612000002",
        "country_code": "ES",
        "consent": "NOT_SUBSCRIBED",
        "sms_consent": "SUBSCRIBED",
    },
    # Said no to WhatsApp, yes to SMS: never messaged, whatever the setting.
    {
        "shopify_id": 3,
        "first_name": "Cy",
        "phone": "+34612000003",
        "country_code": "ES",
        "consent": "UNSUBSCRIBED",
        "sms_consent": "SUBSCRIBED",
    },
    {
        "shopify_id": 4,
        "first_name": "Di",
        "phone": "+34612000004",
        "country_code": "ES",
        "consent": "PENDING",
    },
]


def _connected_shop(make, shopify):
    return installed_shop(
        make,
        shopify,
        SHOP,
        **demo_connection(),
        credits=1000,
    )


def _customers(make, shop) -> dict[int, Customer]:
    with Session(make.engine) as session:
        rows = session.scalars(select(Customer).where(Customer.shop_id == shop.id)).all()
        return {c.shopify_customer_id: c for c in rows}


def _draft(client, name: str) -> dict:
    body = {"name": name, "template": {"name": "order_update", "language": "en"}, "parameters": []}
    response = client.post("/api/campaigns", json=body, headers=bearer())
    assert response.status_code == 201, response.json
    return response.json


def test_imported_whatsapp_consent_alone_decides_the_estimate_by_default(client, make, shopify, meta):
    """The import reads defaultPhoneNumber.whatsAppMarketingConsent: only Ana counts; SMS-only
    Ben does not until the shop turns SMS consent on; Cy, who said no to WhatsApp, never does."""
    shopify.put_customers(SHOP, PEOPLE)
    shop = _connected_shop(make, shopify)
    assert sync_customers(shop.id)["status"] == "done"
    ours = _customers(make, shop)
    assert {i: (c.consent, c.sms_consent) for i, c in ours.items()} == {
        1: ("SUBSCRIBED", "SUBSCRIBED"),
        2: ("NOT_SUBSCRIBED", "SUBSCRIBED"),
        3: ("UNSUBSCRIBED", "SUBSCRIBED"),
        4: ("PENDING", "PENDING"),
    }
    assert client.get("/api/settings/consent", headers=bearer()).json == {
        "sms_consent_counts": False,
        "marketing_cap_hours": None,
    }
    assert _draft(client, "WhatsApp only")["estimated_audience"] == 1
    turned_on = client.put("/api/settings/consent", json={"sms_consent_counts": True}, headers=bearer())
    assert turned_on.status_code == 200 and turned_on.json == {
        "sms_consent_counts": True,
        "marketing_cap_hours": None,
    }
    assert _draft(client, "With SMS")["estimated_audience"] == 2


def test_a_bad_consent_setting_is_refused_and_changes_nothing(client, make, shopify):
    """A setting that is not a boolean is a clear 400; the stored setting stays off."""
    _connected_shop(make, shopify)
    refused = client.put("/api/settings/consent", json={"sms_consent_counts": "yes"}, headers=bearer())
    assert refused.status_code == 400 and "sms_consent_counts" in refused.json["message"]
    assert client.get("/api/settings/consent", headers=bearer()).json == {
        "sms_consent_counts": False,
        "marketing_cap_hours": None,
    }


def test_a_stop_inside_whatsapp_is_written_back_to_shopify(make, shopify):
    """A customer who stopped marketing in WhatsApp is UNSUBSCRIBED in Shopify after the
    write-back job, with the stop's time; the mark is cleared and a second run writes nothing."""
    shopify.put_customers(SHOP, PEOPLE)
    shop = _connected_shop(make, shopify)
    sync_customers(shop.id)
    stopped = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    with session_scope() as session:
        queue_consent_writeback(session, shop.id, [_customers(make, shop)[1].id], stopped)
    assert write_back_consents() == {"shops": 1, "written": 1, "refused": 0}
    whatsapp = shopify.customer(SHOP, 1)["whatsapp"]
    assert whatsapp["state"] == "UNSUBSCRIBED" and whatsapp["updated_at"].startswith("2026-11-29T12:00:00")
    assert _customers(make, shop)[1].consent_writeback_at is None
    assert write_back_consents() == {"shops": 0, "written": 0, "refused": 0}


def test_a_stop_reported_by_meta_reaches_shopify(client, make, shopify):
    """Meta's user_preferences stop unsubscribes the customer here and marks the write-back; a
    later resume before the write-back cancels it; the job then writes only a standing stop."""
    shopify.put_customers(SHOP, PEOPLE)
    shop = installed_shop(make, shopify, SHOP, meta_phone_number_id=PHONE)
    sync_customers(shop.id)
    meta.post(client, _preference("34612000001", "stop", 1_790_000_000))
    meta.post(client, _preference("34612000004", "stop", 1_790_000_000))
    meta.post(client, _preference("34612000004", "resume", 1_790_000_100))
    meta.drain()
    ours = _customers(make, shop)
    assert ours[1].consent == "UNSUBSCRIBED" and ours[1].consent_writeback_at is not None
    assert ours[4].consent_writeback_at is None
    assert write_back_consents()["written"] == 1
    assert shopify.customer(SHOP, 1)["whatsapp"]["state"] == "UNSUBSCRIBED"
    assert shopify.customer(SHOP, 4)["whatsapp"]["state"] == "PENDING"


def _preference(wa_id: str, value: str, seconds: int) -> dict:
    preference = {
        "wa_id": wa_id,
        "detail": "",
        "category": "marketing_messages",
        "value": value,
        "timestamp": seconds,
    }
    return meta.envelope([meta.change(PHONE, field="user_preferences", user_preferences=[preference])])
