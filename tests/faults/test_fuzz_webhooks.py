"""Fuzzed webhooks: hypothesis-generated bodies, correctly signed, from Meta and from Shopify.
None gets a 5xx, and after the drains no batch is left half-applied: every stored body has its
outcome (or waits with its error noted), and every counter equals the GROUP BY of its messages."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import Base, Customer, CustomerTombstone, InboxEvent, Shop
from tests import meta
from tests import shopify_webhooks as shopify

PHONE = "1234567890"
WAMIDS = [f"wamid.f-{n}" for n in range(9)]
FUZZ = settings(
    max_examples=80,
    deadline=None,
    # A loaded machine makes generation slow; that is no fault of the code under test.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)

# Text as hostile as JSON allows: NUL, other controls, astral characters, long runs.
text = st.text(st.characters(codec="utf-8"), max_size=40) | st.sampled_from(["\x00", "a\x00b", "x" * 300])
scalar = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | text
junk = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


def _status() -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {
            "id": st.sampled_from(WAMIDS) | text | junk,
            "status": st.sampled_from(["sent", "delivered", "read", "failed", "played", "deleted"]) | junk,
            "timestamp": st.integers(0, 2**40).map(str) | junk,
            "recipient_id": st.just("34600000000") | text,
        },
        optional={
            "errors": st.lists(
                st.fixed_dictionaries({"code": junk, "title": junk}, optional={"error_data": junk})
            ),
            "pricing": junk,
            "conversation": junk,
            "biz_opaque_callback_data": junk,
        },
    )


def _meta_body() -> st.SearchStrategy:
    value = st.fixed_dictionaries(
        {"messaging_product": st.just("whatsapp"), "metadata": st.just({"phone_number_id": PHONE})},
        optional={"statuses": st.lists(_status(), max_size=6) | junk, "messages": junk, "errors": junk},
    )
    change = st.fixed_dictionaries({"field": st.just("messages") | text, "value": value | junk})
    entry = st.fixed_dictionaries({"id": text, "changes": st.lists(change, max_size=3) | junk})
    document = st.fixed_dictionaries(
        {"object": st.just("whatsapp_business_account") | text, "entry": st.lists(entry, max_size=3) | junk}
    )
    return document | junk


def test_fuzzed_meta_bodies_never_5xx_nor_half_apply(client, make):
    """Signed Meta bodies of every shape: 200 (or 413) each; the drain leaves exact counters."""
    shop = make.shop(meta_phone_number_id=PHONE)
    campaign = make.campaign(shop, "Fuzz")
    for wamid in WAMIDS:
        make.message(campaign, make.customer(shop), wamid=wamid, status="accepted")
    make.recount(campaign)

    @FUZZ
    @given(body=_meta_body())
    def post(body):
        response = meta.post(client, json.dumps(body).encode())
        assert response.status_code < 500, response.status_code

    post()
    for _ in range(3):  # set-aside events are retried by later drains
        meta.drain()
    _no_half_applied(make)
    assert meta.drift(make.engine, campaign) == []


SHOPIFY_TOPICS = [
    "customers/create",
    "customers/update",
    "customers/delete",
    "customers/redact",
    "customers/data_request",
    "customers/marketing_consent_update",
    "shop/redact",
    "app/uninstalled",
    "app/scopes_update",
]


def _shopify_body() -> st.SearchStrategy:
    customer = st.fixed_dictionaries(
        {"id": st.integers(1, 40) | junk},
        optional={
            "phone": st.just("+34612345678") | text,
            "updated_at": st.just("2026-01-15T10:00:00Z") | text,
            "first_name": text,
            "default_address": junk,
            "sms_marketing_consent": junk,
        },
    )
    compliance = st.fixed_dictionaries(
        {"shop_domain": st.just(shopify.SHOP) | st.just("other.myshopify.com") | text},
        optional={"customer": customer | junk, "shop_id": junk, "data_request": junk},
    )
    return customer | compliance | junk


def test_fuzzed_shopify_bodies_never_5xx_nor_half_apply(client, make, run_jobs):
    """Signed Shopify bodies of every shape, under every topic: never a 5xx; afterwards every
    body has its outcome, the shop is still there (or, after a signed shop/redact, nothing of it
    is), and no erased customer came back."""
    shop = make.shop(shopify.SHOP, access_token_ciphertext=encrypt_token("shpat_x"))

    @FUZZ
    @given(topic=st.sampled_from(SHOPIFY_TOPICS), body=_shopify_body())
    def post(topic, body):
        response = shopify.post(client, topic, json.dumps(body).encode())
        assert response.status_code < 500, response.status_code

    post()
    for _ in range(3):
        run_jobs()
    _no_half_applied(make)
    with Session(make.engine) as session:
        stored = session.get(Shop, shop.id)
        if stored is None:  # a signed shop/redact naming the shop erased it: wholly
            for table in Base.metadata.sorted_tables:
                if "shop_id" in table.c:
                    assert session.scalar(select(func.count()).where(table.c.shop_id == shop.id)) == 0
        elif stored.uninstalled_at is None:
            back = (
                select(func.count())
                .select_from(Customer)
                .join(
                    CustomerTombstone,
                    (CustomerTombstone.shop_id == Customer.shop_id)
                    & (CustomerTombstone.shopify_customer_id == Customer.shopify_customer_id),
                )
            )
            assert session.scalar(back) == 0


def _no_half_applied(make) -> None:
    """Every stored body is processed with an outcome, or waits with its error noted."""
    with Session(make.engine) as session:
        rows = session.execute(
            select(InboxEvent.outcome, InboxEvent.processed_at, InboxEvent.last_error)
        ).all()
    assert rows
    for outcome, processed_at, last_error in rows:
        assert (processed_at is not None and outcome) or last_error, (outcome, processed_at, last_error)
