"""Erasure that erases: after every redaction path, the customer's digits are nowhere in the
database, and Meta's applied bodies and parked statuses are kept no longer than they serve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import InboxEvent, Message, ParkedStatus, Shop
from jobs.webhooks import sweep_meta_inbox
from tests import meta
from tests import shopify_webhooks as shopify

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

DIGITS = "34611122233"
PHONE = "+" + DIGITS
OTHER_DIGITS = "34699988877"
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea")


def holders(engine, needle: str) -> list[str]:
    """Every ``table.column`` of text, JSON or bytes type that holds ``needle`` in some row."""
    found = []
    with engine.connect() as connection:
        columns = connection.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'public' AND data_type = ANY(:types)"
            ),
            {"types": list(TEXT_TYPES)},
        ).all()
        for table, column, data_type in columns:
            value = f'"{column}"' if data_type != "bytea" else f"encode(\"{column}\", 'escape')"
            hit = connection.execute(
                text(f'SELECT 1 FROM "{table}" WHERE {value}::text LIKE :like LIMIT 1'),
                {"like": f"%{needle}%"},
            ).first()
            if hit:
                found.append(f"{table}.{column}")
    return sorted(found)


def _wamid(digits: str) -> str:
    return "wamid.HBg" + "".join(chr(ord("A") + int(d)) for d in digits)  # no digits of the phone


@pytest.fixture
def world(client, make, run_jobs):
    """A shop whose customer got a campaign message: Meta's statuses for it were applied (one
    parked, for a wamid not recorded), Shopify's bodies about the customer stored, a data request
    recorded. Another customer of the shop is there too, and must keep every trace."""
    shop = make.shop(shopify.SHOP, access_token_ciphertext=encrypt_token("shpat_x"))
    campaign = make.campaign(shop)
    for shopify_id, digits in ((21, DIGITS), (22, OTHER_DIGITS)):
        customer = make.customer(
            shop, shopify_customer_id=shopify_id, phone="+" + digits, phone_e164="+" + digits
        )
        make.message(
            campaign, customer, status="accepted", phone="+" + digits, wa_id=digits, wamid=_wamid(digits)
        )
    make.recount(campaign)
    shopify.post(
        client, "customers/update", shopify.customer_body(21, updated_at="2026-01-15T10:00:00Z", phone=PHONE)
    )
    shopify.post(
        client,
        "customers/data_request",
        {"shop_domain": shopify.SHOP, "customer": {"id": 21}, "data_request": {"id": 5}},
    )
    for digits in (DIGITS, OTHER_DIGITS):
        meta.post(
            client,
            meta.statuses_body(
                shop.meta_phone_number_id,
                meta.status(_wamid(digits), "delivered", 1_760_000_000, recipient_id=digits),
                meta.status(_wamid(digits) + "-unknown", "sent", 1_760_000_000, recipient_id=digits),
            ),
        )
    run_jobs()
    meta.drain()
    assert "messages.wa_id" in holders(make.engine, DIGITS)
    assert "parked_statuses.status" in holders(make.engine, DIGITS)
    return shop, campaign


def _redact(client, phone: str | None) -> None:
    customer = {"id": 21, "email": "ana@example.com", "phone": phone}
    shopify.post(
        client, "customers/redact", {"shop_id": 1, "shop_domain": shopify.SHOP, "customer": customer}
    )


@pytest.mark.parametrize(
    "path",
    ["redact", "delete then redact", "delete then redact without a phone in the body"],
)
def test_customer_redaction_leaves_no_digit_behind(client, make, run_jobs, world, path):
    """customers/redact (after a customers/delete or not) erases the number from every column of
    every table: messages, Meta and Shopify bodies, parked statuses; the other customer keeps all."""
    shop, campaign = world
    if path != "redact":
        shopify.post(client, "customers/delete", {"id": 21})
        run_jobs()
    _redact(client, None if path.endswith("without a phone in the body") else PHONE)
    run_jobs()
    assert holders(make.engine, DIGITS) == []
    assert "messages.wa_id" in holders(make.engine, OTHER_DIGITS)
    assert "inbox_events.body" in holders(make.engine, OTHER_DIGITS)
    assert meta.counters(make.engine, campaign)["delivered"] == 2  # the numbers stay exact
    assert meta.drift(make.engine, campaign) == []


def test_shop_redaction_leaves_no_digit_behind(client, make, run_jobs, world):
    """shop/redact after an uninstall erases the shop's customers' numbers from Meta's bodies too."""
    shopify.post(client, "app/uninstalled", {"id": 1, "myshopify_domain": shopify.SHOP})
    run_jobs()
    shopify.post(client, "shop/redact", {"shop_id": 1, "shop_domain": shopify.SHOP})
    run_jobs()
    assert holders(make.engine, DIGITS) == [] and holders(make.engine, OTHER_DIGITS) == []


def _age(engine, model, column, days: float) -> None:
    with Session(engine) as session, session.begin():
        session.execute(update(model).values({column: datetime.now(UTC) - timedelta(days=days)}))


def test_applied_meta_bodies_are_dropped_after_retention_but_still_deduplicate(client, make, world):
    """A day after it was applied, a Meta body is dropped (its digest stays): a redelivery of the
    same bytes is still recognised and changes nothing."""
    shop, campaign = world
    body = meta.statuses_body(
        shop.meta_phone_number_id, meta.status(_wamid(DIGITS), "read", 1_760_000_100, recipient_id=DIGITS)
    )
    meta.post(client, body)
    meta.drain()
    _age(make.engine, InboxEvent, "processed_at", 1.1)
    sweep_meta_inbox()
    with Session(make.engine) as session:
        sizes = session.execute(select(InboxEvent.source, func.octet_length(InboxEvent.body))).all()
        meta_rows = session.scalar(select(func.count()).where(InboxEvent.source == "meta"))
    assert {size for source, size in sizes if source == "meta"} == {0}
    assert meta.post(client, body).status_code == 200
    with Session(make.engine) as session:
        assert session.scalar(select(func.count()).where(InboxEvent.source == "meta")) == meta_rows
    assert meta.drain()["events"] == 0


def test_a_recent_applied_body_is_kept(client, make, world):
    """Within the retention an applied Meta body stays as received (for diagnosis and replays)."""
    sweep_meta_inbox()
    with Session(make.engine) as session:
        sizes = session.scalars(select(func.octet_length(InboxEvent.body)).where(InboxEvent.source == "meta"))
        assert min(sizes) > 0


def test_parked_statuses_are_kept_no_longer_than_30_days(make, world, monkeypatch):
    """A status parked 30 days and an hour ago is forgotten, even when messages expire later."""
    monkeypatch.setenv("MESSAGE_TTL_DAYS", "90")
    _age(make.engine, ParkedStatus, "parked_at", 30.05)
    sweep_meta_inbox()
    with Session(make.engine) as session:
        assert session.scalar(select(func.count()).select_from(ParkedStatus)) == 0
        assert session.scalar(select(func.count()).select_from(Shop)) == 1
        assert session.scalar(select(func.count()).select_from(Message)) == 2
