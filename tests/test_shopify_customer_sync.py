"""The customer import against the Shopify stand-in: cursor pages, throttling, E.164 without a
default region, consent mapping, and never overwriting newer webhook data."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Customer, CustomerTombstone, Shop
from jobs.customer_import import request_customer_sync, sync_customers
from tests.shopify_stand_in import installed_shop

SHOP = "demo.myshopify.com"


def _customers(make, shop) -> dict[int, Customer]:
    with Session(make.engine) as session:
        rows = session.scalars(select(Customer).where(Customer.shop_id == shop.id)).all()
        return {c.shopify_customer_id: c for c in rows}


def test_the_import_pages_through_every_customer_under_throttling(shopify, make, run_jobs):
    """250 generated customers, a bucket that holds barely one page (the client waits for it):
    every customer arrives as Shopify holds it, and the shop is marked imported."""
    shopify.configure(customers=250, bucket=600, restore_rate=2000.0)
    shop = installed_shop(make, shopify, SHOP)
    assert request_customer_sync(shop.id) is True
    assert request_customer_sync(shop.id) is False  # one import per shop at a time
    run_jobs()
    served = {c["id"]: c for c in shopify.customers(SHOP)}
    ours = _customers(make, shop)
    assert sorted(ours) == sorted(served) and len(ours) == 250
    for customer_id, customer in served.items():
        mine = ours[customer_id]
        assert (mine.first_name, mine.phone, mine.country_code) == (
            customer["first_name"],
            customer["phone"],
            customer["country"],
        )
        assert sorted(mine.tags) == sorted(customer["tags"])
        # Both consents belong to the phone number; a WhatsApp consent never given reads
        # NEVER_SUBSCRIBED (ours: NOT_SUBSCRIBED); SMS consent never stands in for it.
        if customer["phone"]:
            assert mine.consent == (customer["whatsapp"] or {}).get("state", "NOT_SUBSCRIBED")
            assert mine.sms_consent == (customer["sms"] or {}).get("state", "NOT_SUBSCRIBED")
        else:
            assert (mine.consent, mine.sms_consent) == ("UNKNOWN", None)
    with Session(make.engine) as session:
        assert session.get(Shop, shop.id).customers_synced_at is not None
        assert session.get(Shop, shop.id).timezone == "Europe/Madrid"
    assert shopify.stats()["graphql"] >= 4  # shop details + 3 pages of 100


def test_phones_are_e164_only_when_they_carry_their_country_code(shopify, make):
    """No default region: a national number stays unparsed (the fixable failure), however
    clearly the address names the country."""
    shopify.put_customers(
        SHOP,
        [
            {
                "shopify_id": 1,
                "first_name": "Ana",
                "phone": "+34 612 34 56 78",
                "country_code": "ES",
                "consent": "SUBSCRIBED",
            },
            {
                "shopify_id": 2,
                "first_name": "Ben",
                "phone": "612 34 56 78",
                "country_code": "ES",
                "consent": "PENDING",
            },
            {"shopify_id": 3, "first_name": "Cy", "phone": None, "country_code": None, "consent": "UNKNOWN"},
        ],
    )
    shop = installed_shop(make, shopify, SHOP)
    sync_customers(shop.id)
    ours = _customers(make, shop)
    assert ours[1].phone_e164 == "+34612345678" and ours[2].phone_e164 is None and ours[3].phone is None
    assert (ours[1].consent, ours[2].consent, ours[3].consent) == ("SUBSCRIBED", "PENDING", "UNKNOWN")
    assert ours[3].country_code is None


def test_newer_webhook_data_is_not_overwritten_by_the_import(shopify, make):
    """A customer we hold from a webhook newer than Shopify's node keeps the webhook's data;
    one we hold older is updated; a deleted one is not brought back."""
    shopify.put_customers(
        SHOP,
        [
            {"shopify_id": 1, "first_name": "Import", "phone": "+34612345678", "country_code": "ES"},
            {"shopify_id": 2, "first_name": "Import", "phone": "+34612345679", "country_code": "ES"},
            {"shopify_id": 3, "first_name": "Import", "phone": "+34612345670", "country_code": "ES"},
        ],
    )
    shop = installed_shop(make, shopify, SHOP)
    future, past = datetime(2030, 1, 1, tzinfo=UTC), datetime(2020, 1, 1, tzinfo=UTC)
    make.customer(shop, shopify_customer_id=1, first_name="Webhook", shopify_updated_at=future)
    make.customer(shop, shopify_customer_id=2, first_name="Webhook", shopify_updated_at=past)
    with Session(make.engine) as session, session.begin():
        session.add(CustomerTombstone(shop_id=shop.id, shopify_customer_id=3, reason="deleted"))
    assert sync_customers(shop.id)["status"] == "done"
    ours = _customers(make, shop)
    assert ours[1].first_name == "Webhook" and ours[2].first_name == "Import" and 3 not in ours


def test_a_long_import_hands_over_to_a_follow_up_job(shopify, make, run_jobs, monkeypatch):
    """With no time left after the first page the import queues its continuation from the
    cursor, and the worker finishes it: every customer once."""
    import jobs.customer_import

    monkeypatch.setattr(jobs.customer_import, "SYNC_TIME_BUDGET_S", 0)
    shopify.configure(customers=230)
    shop = installed_shop(make, shopify, SHOP)
    first = sync_customers(shop.id)
    assert first["status"] == "continues" and first["pages"] == 1
    run_jobs()
    assert len(_customers(make, shop)) == 230


def test_a_shop_without_a_token_stops_the_import_without_retrying(shopify, make):
    """Never opened (no token): the job ends saying the merchant must open the app."""
    shop = make.shop(SHOP)
    assert sync_customers(shop.id)["status"] == "reauthorization_required"
    assert _customers(make, shop) == {}
