"""The Shopify drain, through the endpoint and a real RQ worker: every topic, stale and
repeated deliveries, uninstall and the compliance topics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import (
    Campaign,
    Customer,
    CustomerDataRequest,
    CustomerTombstone,
    InboxEvent,
    Message,
    Shop,
    ShopifyWebhookDelivery,
)
from jobs.shopify import purge_applied, sweep_shopify_inbox
from tests.shopify_webhooks import (
    SHOP,
    SMS_CONSENT,
    WHATSAPP_CONSENT,
    consent_body,
    customer_body,
    post,
    whatsapp_consent_body,
)
from tests.tokens import bearer

JAN, FEB, MAR = "2026-01-15T10:00:00Z", "2026-02-15T10:00:00Z", "2026-03-15T10:00:00Z"


@pytest.fixture
def shop(make):
    return make.shop(SHOP, access_token_ciphertext=encrypt_token("shpat_demo"))


def _customers(make, shop) -> dict[int, Customer]:
    with Session(make.engine) as session:
        rows = session.scalars(select(Customer).where(Customer.shop_id == shop.id)).all()
        return {c.shopify_customer_id: c for c in rows}


def _outcomes(make) -> list[str]:
    with Session(make.engine) as session:
        return list(session.scalars(select(InboxEvent.outcome).order_by(InboxEvent.id)))


def test_create_then_update_then_a_stale_update(client, make, run_jobs, shop):
    """create (Jan), update (Mar), then a late update from Feb: the March data stays."""
    post(client, "customers/create", customer_body(11, updated_at=JAN, phone="612 34 56 78"))
    post(
        client, "customers/update", customer_body(11, updated_at=MAR, phone="+34612345678", last_name="Lopez")
    )
    post(client, "customers/update", customer_body(11, updated_at=FEB, phone="+34699999999", last_name="Old"))
    run_jobs()
    customer = _customers(make, shop)[11]
    assert (customer.phone, customer.phone_e164, customer.last_name) == (
        "+34612345678",
        "+34612345678",
        "Lopez",
    )
    assert customer.country_code == "ES" and customer.shopify_updated_at.isoformat().startswith("2026-03-15")
    assert _outcomes(make) == ["applied", "applied", "stale"]


def test_an_update_keeps_tags_and_consent_the_body_does_not_carry(client, make, run_jobs, shop):
    """API 2025-01+ bodies have no tags and no consent: what we hold of them is kept."""
    make.customer(
        shop,
        shopify_customer_id=12,
        tags=["vip"],
        consent="SUBSCRIBED",
        shopify_updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    post(client, "customers/update", customer_body(12, updated_at=FEB, phone="+4915123456789", country="DE"))
    run_jobs()
    customer = _customers(make, shop)[12]
    assert customer.tags == ["vip"] and customer.consent == "SUBSCRIBED"
    assert customer.phone_e164 == "+4915123456789" and customer.country_code == "DE"


def test_an_older_api_version_body_brings_tags_and_sms_consent(client, make, run_jobs, shop):
    """API 2024-10 bodies carry comma-separated tags and the SMS consent: both are read, the
    consent as SMS consent (never as WhatsApp's)."""
    body = (
        customer_body(13, updated_at=FEB) | {"tags": "vip, wholesale"} | consent_body(13, "subscribed", FEB)
    )
    post(client, "customers/create", body)
    run_jobs()
    customer = _customers(make, shop)[13]
    assert customer.tags == ["vip", "wholesale"]
    assert (customer.sms_consent, customer.consent) == ("SUBSCRIBED", "UNKNOWN")


def test_a_redelivery_with_the_same_webhook_id_changes_nothing(client, make, run_jobs, shop):
    """Same X-Shopify-Webhook-Id, other bytes (re-serialised): applied once, then a duplicate."""
    post(client, "customers/create", customer_body(14, updated_at=JAN), webhook_id="delivery-1")
    run_jobs()
    with Session(make.engine) as session, session.begin():
        session.execute(update(Customer).values(first_name="Edited here"))
    body = customer_body(14, updated_at=JAN) | {"note": "same delivery, other bytes"}
    post(client, "customers/create", body, webhook_id="delivery-1")
    run_jobs()
    assert _customers(make, shop)[14].first_name == "Edited here"
    assert _outcomes(make) == ["applied", "duplicate"]


def test_delete_removes_the_customer_and_a_late_update_cannot_bring_it_back(client, make, run_jobs, shop):
    """customers/delete leaves a tombstone; an update delivered after it is stale."""
    post(client, "customers/create", customer_body(15, updated_at=JAN))
    post(client, "customers/delete", {"id": 15, "phone": None, "addresses": []})
    post(client, "customers/update", customer_body(15, updated_at=FEB))
    run_jobs()
    assert 15 not in _customers(make, shop)
    with Session(make.engine) as session:
        tombstone = session.get(CustomerTombstone, (shop.id, 15))
    assert tombstone.reason == "deleted"
    assert _outcomes(make) == ["applied", "applied", "stale"]


def test_each_consent_follows_its_own_clock_and_sms_never_becomes_whatsapp(client, make, run_jobs, shop):
    """SMS consent (Feb) applies to sms_consent; an older one (Jan) is stale; WhatsApp's
    consent arrives by its own topic and body shape, and a later SMS consent leaves it alone."""
    make.customer(shop, shopify_customer_id=16, consent="UNKNOWN")
    post(client, SMS_CONSENT, consent_body(16, "subscribed", FEB))
    post(client, SMS_CONSENT, consent_body(16, "unsubscribed", JAN))
    run_jobs()
    customer = _customers(make, shop)[16]
    assert (customer.consent, customer.sms_consent) == ("UNKNOWN", "SUBSCRIBED")
    post(client, WHATSAPP_CONSENT, whatsapp_consent_body(16, "never_subscribed", JAN))
    post(client, SMS_CONSENT, consent_body(16, "not_subscribed", MAR))
    post(client, WHATSAPP_CONSENT, whatsapp_consent_body(16, "subscribed", MAR))
    run_jobs()
    customer = _customers(make, shop)[16]
    assert (customer.consent, customer.consent_source, customer.sms_consent) == (
        "SUBSCRIBED",
        "shopify",
        "NOT_SUBSCRIBED",
    )
    assert _outcomes(make) == ["applied", "stale", "applied", "applied", "applied"]


def test_a_consent_for_an_unknown_customer_creates_it(client, make, run_jobs, shop):
    """Consent may arrive before the customer: the row is created with the consent and phone."""
    post(client, WHATSAPP_CONSENT, whatsapp_consent_body(17, "subscribed", FEB))
    run_jobs()
    customer = _customers(make, shop)[17]
    assert customer.consent == "SUBSCRIBED" and customer.phone_e164 == "+34612345678"


def test_the_guessed_topic_names_are_not_handled(client, make, run_jobs, shop):
    """Only Shopify's own topic names change consent: the old guessed names are ignored."""
    make.customer(shop, shopify_customer_id=18, consent="UNKNOWN")
    post(client, "customers/whatsapp_marketing_consent_update", whatsapp_consent_body(18, "subscribed", FEB))
    post(client, "customers/marketing_consent_update", consent_body(18, "subscribed", FEB))
    run_jobs()
    customer = _customers(make, shop)[18]
    assert (customer.consent, customer.sms_consent) == ("UNKNOWN", None)
    assert _outcomes(make) == ["ignored", "ignored"]


def test_app_uninstalled_marks_the_shop_and_forgets_its_tokens(client, make, run_jobs, shop):
    """After app/uninstalled the shop has no tokens and its API calls are refused as not installed."""
    post(client, "app/uninstalled", {"id": 1, "myshopify_domain": SHOP})
    run_jobs()
    with Session(make.engine) as session:
        stored = session.get(Shop, shop.id)
    assert stored.uninstalled_at is not None
    assert stored.access_token_ciphertext is None and stored.refresh_token_ciphertext is None
    assert client.get("/api/campaigns", headers=bearer(SHOP)).status_code == 403


def test_an_uninstall_from_before_a_reinstall_is_stale(client, make, run_jobs):
    """Uninstall triggered an hour ago, shop reinstalled since: the shop stays installed."""
    shop = make.shop(SHOP, installed_at=datetime.now(UTC) - timedelta(minutes=5))
    post(
        client,
        "app/uninstalled",
        {"id": 1, "myshopify_domain": SHOP},
        triggered_at=datetime.now(UTC) - timedelta(hours=1),
    )
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, shop.id).uninstalled_at is None
    assert _outcomes(make) == ["stale"]


def test_customers_redact_erases_the_customer_and_the_numbers_sent_to(client, make, run_jobs, shop):
    """The customer row goes (tombstoned), their message keeps its status but not their phone,
    the campaign's counts stay, a data request's snapshot is emptied; others are untouched."""
    gone = make.customer(shop, shopify_customer_id=21, phone="+34612345678")
    kept = make.customer(shop, shopify_customer_id=22, phone="+34612345679")
    campaign = make.campaign(shop)
    make.message(campaign, gone, status="read", phone="+34612345678", wamid="wamid.1")
    make.message(campaign, kept, status="read", phone="+34612345679", wamid="wamid.2")
    make.recount(campaign)
    post(
        client,
        "customers/data_request",
        {"shop_domain": SHOP, "customer": {"id": 21}, "data_request": {"id": 7}},
    )
    post(
        client,
        "customers/redact",
        {"shop_domain": SHOP, "customer": {"id": 21, "phone": "+34612345678"}, "orders_to_redact": []},
    )
    post(client, "customers/update", customer_body(21, updated_at=MAR))
    run_jobs()
    assert set(_customers(make, shop)) == {22}
    with Session(make.engine) as session:
        phones = sorted(session.scalars(select(Message.phone)), key=str)
        request = session.scalar(select(CustomerDataRequest))
        counted = session.get(Campaign, (shop.id, campaign.id)).messages_count
    assert phones == ["+34612345679", None] and counted == 2
    assert request.data_request_id == 7 and request.held is None
    assert _outcomes(make) == ["applied", "applied", "stale"]


def test_a_data_request_records_what_we_hold(client, make, run_jobs, shop):
    """customers/data_request keeps the request and a snapshot of the customer's data."""
    customer = make.customer(
        shop, shopify_customer_id=23, first_name="Ana", phone="+34612345678", tags=["vip"]
    )
    make.message(make.campaign(shop), customer, status="read", wamid="wamid.3")
    post(
        client,
        "customers/data_request",
        {"shop_domain": SHOP, "orders_requested": [5, 6], "customer": {"id": 23}, "data_request": {"id": 9}},
    )
    run_jobs()
    with Session(make.engine) as session:
        request = session.scalar(select(CustomerDataRequest))
    assert request.orders_requested == [5, 6] and request.data_request_id == 9
    assert request.held["customer"]["first_name"] == "Ana" and request.held["customer"]["tags"] == ["vip"]
    assert [m["status"] for m in request.held["messages"]] == ["read"]


def test_shop_redact_erases_the_shop_and_nothing_else(client, make, run_jobs, shop):
    """After an uninstall, every row of the shop goes, the shop too; another shop keeps all of its data."""
    other = make.shop("other.myshopify.com")
    for owner in (shop, other):
        customer = make.customer(owner)
        make.message(make.campaign(owner), customer, status="read", wamid=f"wamid.{owner.id}")
    post(client, "customers/create", customer_body(31, updated_at=JAN))
    post(client, "app/uninstalled", {"id": 1, "myshopify_domain": SHOP})
    run_jobs()
    post(
        client,
        "shop/redact",
        {"shop_id": 1, "shop_domain": SHOP},
        triggered_at=datetime.now(UTC) + timedelta(seconds=1),
    )
    post(client, "customers/update", customer_body(31, updated_at=FEB))
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, shop.id) is None
        for model in (Customer, Campaign, Message, ShopifyWebhookDelivery):
            owners = set(session.scalars(select(model.shop_id)))
            assert owners <= {other.id}, model.__name__
        assert session.scalar(select(func.count()).select_from(Message)) == 1
        # The shop's bodies and their headers are emptied (their rows and digests stay, so a late
        # copy is still recognised), all but the redact request itself (no personal data), kept as
        # the record that it was done; the late update found no shop.
        bodies = session.execute(
            select(
                InboxEvent.topic, InboxEvent.outcome, InboxEvent.headers, func.octet_length(InboxEvent.body)
            ).order_by(InboxEvent.id)
        ).all()
        assert [(topic, outcome, bool(headers), size > 0) for topic, outcome, headers, size in bodies] == [
            ("customers/create", "applied", False, False),
            ("app/uninstalled", "applied", False, False),
            ("shop/redact", "applied", True, True),
            ("customers/update", "unknown_shop", False, False),
        ]


def test_bodies_we_cannot_use_are_set_aside_with_their_reason(client, make, run_jobs, shop):
    """Not JSON, a topic we do not use, a shop we do not serve, a customer without updated_at."""
    post(client, "customers/update", b"{not json")
    post(client, "products/create", {"id": 1})
    post(client, "customers/update", customer_body(41, updated_at=JAN), shop="stranger.myshopify.com")
    post(client, "customers/update", {"id": 42, "first_name": "No date"})
    run_jobs()
    assert _outcomes(make) == ["not_json", "ignored", "unknown_shop", "bad_payload"]
    assert _customers(make, shop) == {}


def test_the_sweeper_drains_what_no_drain_was_queued_for(client, make, run_jobs, shop, app):
    """A body stored while Redis lost its queue (flushed here) is drained after the sweeper runs."""
    from core.redis import get_redis

    post(client, "customers/create", customer_body(51, updated_at=JAN))
    get_redis().flushdb()  # the queued drain and its flag are lost
    with Session(make.engine) as session, session.begin():
        session.execute(update(InboxEvent).values(received_at=func.now() - timedelta(minutes=1)))
    assert sweep_shopify_inbox()["requeued"] is True
    run_jobs()
    assert 51 in _customers(make, shop)


def test_retention_forgets_applied_bodies_after_an_hour_and_the_ledger_after_a_month(
    client, make, run_jobs, shop
):
    """Applied bodies hold personal data: emptied an hour after they were applied (the row and
    its digest stay); the delivery ledger goes after 30 days."""
    post(client, "customers/create", customer_body(61, updated_at=JAN), webhook_id="old-delivery")
    run_jobs()
    assert purge_applied(datetime.now(UTC) + timedelta(minutes=50)) == {"bodies": 0, "ledger": 0}
    assert purge_applied(datetime.now(UTC) + timedelta(minutes=70)) == {"bodies": 1, "ledger": 0}
    post(
        client,
        "customers/create",
        customer_body(61, updated_at=JAN) | {"note": "late copy"},
        webhook_id="old-delivery",
    )
    run_jobs()
    assert _outcomes(make) == ["applied", "duplicate"]  # recognised by the ledger after the body is gone
    with Session(make.engine) as session:
        bodies = session.scalars(select(InboxEvent.body).order_by(InboxEvent.id)).all()
    assert [len(body) > 0 for body in bodies] == [False, True]
    assert purge_applied(datetime.now(UTC) + timedelta(days=31))["ledger"] == 1
