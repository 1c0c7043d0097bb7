"""customers/redact erases one customer's number from their own shop only: the bodies of that
shop (Shopify's by the shop header they came with, Meta's by the phone number id they are
routed by), values that are the number as a whole, never a substring of a longer value, and
never a field that a body waiting to be drained still needs."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import Customer, InboxEvent, Message, Order
from core.redis import get_redis
from jobs.shopify import drain_shopify_inbox
from tests import meta
from tests import shopify_webhooks as shopify
from tests.orders import order_body
from tests.test_erasure import holders

OTHER = "other.myshopify.com"
ANA_DIGITS = "34612345678"
ANA = "+" + ANA_DIGITS
ANA_LOCAL = "612345678"  # Ana's number as a shop stored it, without its calling code
# A phone number id and an order id that hold Ana's digits inside a longer number.
PHONE_NUMBER_ID = "99" + ANA_DIGITS
ORDER_ID = int("5" + ANA_LOCAL + "901")
WAMID = "wamid.HBgLMzQ2MTIzNDU2NzgVAgARGBI"


def _bodies_of(engine, domain: str, phone_number_id: str) -> dict[int, bytes]:
    """The stored bodies of one shop: Shopify's sent under its domain, Meta's for its number."""
    found = {}
    with Session(engine) as session:
        for row in session.scalars(select(InboxEvent)):
            body = bytes(row.body)
            if row.source == "shopify" and row.headers["X-Shopify-Shop-Domain"] == domain:
                found[row.id] = body
            elif row.source == "meta":
                value = json.loads(body)["entry"][0]["changes"][0]["value"]
                if value["metadata"]["phone_number_id"] == phone_number_id:
                    found[row.id] = body
    return found


def _redact(client, customer_id: int, phone: str | None, shop: str = shopify.SHOP) -> None:
    body = {"shop_id": 1, "shop_domain": shop, "customer": {"id": customer_id, "phone": phone}}
    assert shopify.post(client, "customers/redact", body, shop=shop).status_code == 200


def _customer_with_message(make, shop, shopify_id: int, phone: str, wamid: str, **fields) -> Customer:
    customer = make.customer(shop, shopify_customer_id=shopify_id, phone=phone, **fields)
    # Settled: a PENDING campaign is one the periodic monitor may pick up and materialise while
    # run_jobs works, adding a message the test did not make.
    campaign = make.campaign(shop, status="SENT")
    digits = phone.lstrip("+")
    make.message(campaign, customer, status="accepted", phone=phone, wa_id=digits, wamid=wamid)
    make.recount(campaign)
    return customer


def test_redaction_leaves_another_shops_bodies_as_they_were(client, make, run_jobs):
    """Two shops hold the same number: redacting it in one shop changes no byte of the other
    shop's stored Shopify and Meta bodies, and none of its messages or parked statuses."""
    shops = [make.shop(d, access_token_ciphertext=encrypt_token("shpat_x")) for d in (shopify.SHOP, OTHER)]
    for n, shop in enumerate(shops):
        _customer_with_message(make, shop, 21, ANA, f"wamid.{n}", phone_e164=ANA)
        update = shopify.customer_body(21, updated_at="2026-01-15T10:00:00Z", phone=ANA, first_name=f"Ana{n}")
        shopify.post(client, "customers/update", update, shop=shop.domain)
        statuses = (
            meta.status(f"wamid.{n}", "delivered", 1_760_000_000, recipient_id=ANA_DIGITS),
            meta.status(f"wamid.{n}-unknown", "sent", 1_760_000_000, recipient_id=ANA_DIGITS),
        )
        meta.post(client, meta.statuses_body(shop.meta_phone_number_id, *statuses))
    run_jobs()
    meta.drain()
    before = _bodies_of(make.engine, OTHER, shops[1].meta_phone_number_id)
    assert len(before) == 2 and all(ANA_DIGITS.encode() in b for b in before.values())

    _redact(client, 21, ANA)
    run_jobs()

    assert _bodies_of(make.engine, OTHER, shops[1].meta_phone_number_id) == before
    with make.engine.connect() as connection:
        kept = connection.execute(
            text("SELECT phone, wa_id FROM messages WHERE shop_id = :shop"), {"shop": shops[1].id}
        ).one()
        parked = connection.execute(
            text("SELECT status ->> 'recipient_id' FROM parked_statuses WHERE shop_id = :shop"),
            {"shop": shops[1].id},
        ).scalar_one()
    assert tuple(kept) == (ANA, ANA_DIGITS) and parked == ANA_DIGITS
    with Session(make.engine) as session:
        mine = session.scalars(select(Message.phone).where(Message.shop_id == shops[0].id)).all()
    assert mine == [None]


def test_a_meta_body_not_yet_drained_stays_whole_and_is_applied(client, make, run_jobs):
    """A Meta body still waiting for its drain when the redaction runs loses the customer's
    number but stays JSON with its phone number id and wamid intact (both hold the number's
    digits inside longer values), so its status is applied afterwards."""
    shop = make.shop(
        shopify.SHOP, access_token_ciphertext=encrypt_token("shpat_x"), meta_phone_number_id=PHONE_NUMBER_ID
    )
    campaign = make.campaign(shop)
    ana = make.customer(shop, shopify_customer_id=21, phone=ANA, phone_e164=ANA)
    make.message(campaign, ana, status="accepted", phone=ANA, wa_id=ANA_DIGITS, wamid=WAMID)
    make.recount(campaign)
    status = meta.status(WAMID, "delivered", 1_760_000_000, recipient_id=ANA_DIGITS)
    meta.post(client, meta.statuses_body(PHONE_NUMBER_ID, status))
    get_redis().flushdb()  # the Meta drain's job is lost: the body waits (for the sweeper)

    _redact(client, 21, ANA)
    run_jobs()

    with Session(make.engine) as session:
        waiting = session.scalar(select(InboxEvent).where(InboxEvent.source == "meta"))
    assert waiting.processed_at is None
    body = json.loads(bytes(waiting.body))
    value = body["entry"][0]["changes"][0]["value"]
    assert value["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
    assert value["statuses"][0]["id"] == WAMID and value["statuses"][0]["recipient_id"] != ANA_DIGITS

    assert meta.drain()["events"] == 1
    assert meta.counters(make.engine, campaign)["delivered"] == 1
    assert holders(make.engine, ANA) == []
    assert holders(make.engine, f'"{ANA_DIGITS}"') == []  # no JSON string is her number


def test_a_shopify_body_not_yet_drained_keeps_its_long_ids_and_is_applied(client, make, run_jobs):
    """A Shopify order arriving while a redaction runs: the customer's number (in the local form
    the shop stored and in E.164) is masked where it is a whole value, the order id holding
    those digits stays, the body stays JSON, and the drain then stores the order."""
    from jobs.privacy import resume_privacy_requests

    shop = make.shop(shopify.SHOP, access_token_ciphertext=encrypt_token("shpat_x"))
    make.customer(shop, shopify_customer_id=21, phone=ANA_LOCAL, country_code="ES")
    _redact(client, 21, ANA_LOCAL)
    drain_shopify_inbox()  # the request is recorded; its erasure is a job of its own
    order = order_body(ORDER_ID, None, "19.90", meta.at(1_760_000_000)) | {
        "phone": ANA_LOCAL,
        "note": f"call {ANA_LOCAL} after 5pm",
        "billing_address": {"phone": "+34 612 345 678", "zip": "28001"},
    }
    shopify.post(client, "orders/create", order)
    get_redis().flushdb()  # neither the order's drain nor the erasure job ran: both wait

    resume_privacy_requests()  # the periodic sweep queues the erasure again
    run_jobs()

    with Session(make.engine) as session:
        waiting = session.scalar(select(InboxEvent).where(InboxEvent.topic == "orders/create"))
    assert waiting.processed_at is None
    stored = json.loads(bytes(waiting.body))
    assert stored["id"] == ORDER_ID and stored["name"] == order["name"]
    assert stored["phone"] != ANA_LOCAL and stored["billing_address"]["phone"] != "+34 612 345 678"
    assert stored["billing_address"]["zip"] == "28001"
    assert stored["note"] == order["note"]  # a longer text is not the number

    drain_shopify_inbox()
    with Session(make.engine) as session:
        assert session.scalar(select(Order.shopify_order_id)) == ORDER_ID
        assert session.scalar(select(InboxEvent.outcome).where(InboxEvent.id == waiting.id)) == "applied"


def test_numbers_that_only_end_alike_are_other_customers_numbers(client, make, run_jobs):
    """Redacting Ana (stored in E.164) keeps the numbers of Bea, whose number the shop stored
    locally and which ends like Ana's, and of Carl, whose number is Ana's last seven digits;
    redacting Dan (stored locally) erases his local number, not Eve's E.164 number that ends
    like it."""
    shop = make.shop(shopify.SHOP, access_token_ciphertext=encrypt_token("shpat_x"))
    _customer_with_message(make, shop, 21, ANA, "wamid.ana", phone_e164=ANA)
    _customer_with_message(make, shop, 22, ANA_LOCAL, "wamid.bea", country_code="FR")
    _customer_with_message(make, shop, 23, ANA_DIGITS[-7:], "wamid.carl")
    _customer_with_message(make, shop, 24, "699111222", "wamid.dan", country_code="ES")
    _customer_with_message(make, shop, 25, "+33699111222", "wamid.eve", phone_e164="+33699111222")
    eve_update = shopify.customer_body(25, updated_at="2026-01-15T10:00:00Z", phone="+33699111222")
    shopify.post(client, "customers/update", eve_update)
    run_jobs()

    _redact(client, 21, ANA)
    _redact(client, 24, "699111222")
    run_jobs()

    with Session(make.engine) as session:
        phones = dict(session.execute(select(Message.wamid, Message.phone)).all())
    assert phones == {
        "wamid.ana": None,
        "wamid.bea": ANA_LOCAL,
        "wamid.carl": ANA_DIGITS[-7:],
        "wamid.dan": None,
        "wamid.eve": "+33699111222",
    }
    assert "inbox_events.body" in holders(make.engine, "+33699111222")


@pytest.mark.parametrize("written", ["612345678", "612 345 678", "+34612345678", "34612345678"])
def test_every_form_of_the_number_is_masked(client, make, run_jobs, written):
    """The customer's number is masked in a stored body whether it is written in the local form
    the shop stored, spaced, in E.164 or in E.164 without its plus."""
    shop = make.shop(shopify.SHOP, access_token_ciphertext=encrypt_token("shpat_x"))
    make.customer(shop, shopify_customer_id=21, phone=ANA_LOCAL, phone_e164=ANA, country_code="ES")
    consent = shopify.consent_body(21, "SUBSCRIBED", "2026-01-15T10:00:00Z") | {"phone": written}
    shopify.post(client, shopify.SMS_CONSENT, consent)
    run_jobs()
    _redact(client, 21, None)
    run_jobs()
    with Session(make.engine) as session:
        bodies = [json.loads(bytes(b)) for b in session.scalars(select(InboxEvent.body))]
    assert [b["phone"] for b in bodies if "sms_marketing_consent" in b] == ["redacted"]


def _two_shops_body(first_number: str, second_number: str) -> dict:
    """One Meta body carrying a status for each of two shops' numbers (Meta batches by WABA)."""
    return meta.envelope(
        [
            meta.change(
                first_number,
                statuses=[meta.status("wamid.0", "read", 1_760_000_000, recipient_id=ANA_DIGITS)],
            ),
            meta.change(
                second_number,
                statuses=[meta.status("wamid.1", "read", 1_760_000_000, recipient_id=ANA_DIGITS)],
            ),
        ]
    )


def test_in_a_body_shared_with_another_shop_only_the_shops_own_change_is_masked(client, make, run_jobs):
    """A Meta body waiting for its drain holds a change for each of two shops, both naming the
    same number: redacting it in the first shop masks the first change only, and the drain then
    applies both."""
    shops = [make.shop(d, access_token_ciphertext=encrypt_token("shpat_x")) for d in (shopify.SHOP, OTHER)]
    campaigns = []
    for n, shop in enumerate(shops):
        customer = make.customer(shop, shopify_customer_id=21, phone=ANA, phone_e164=ANA)
        campaigns.append(make.campaign(shop))
        make.message(
            campaigns[-1], customer, status="accepted", phone=ANA, wa_id=ANA_DIGITS, wamid=f"wamid.{n}"
        )
        make.recount(campaigns[-1])
    meta.post(client, _two_shops_body(*(s.meta_phone_number_id for s in shops)))
    get_redis().flushdb()  # the Meta drain's job is lost: the body waits

    _redact(client, 21, ANA)
    run_jobs()

    with Session(make.engine) as session:
        changes = json.loads(
            bytes(session.scalar(select(InboxEvent.body).where(InboxEvent.source == "meta")))
        )
    recipients = [c["value"]["statuses"][0]["recipient_id"] for c in changes["entry"][0]["changes"]]
    assert recipients == ["redacted", ANA_DIGITS]
    meta.drain()
    assert [meta.counters(make.engine, c)["read"] for c in campaigns] == [1, 1]
