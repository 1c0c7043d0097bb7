"""Protected customer data: order webhooks carry only what attribution reads and customer
webhooks only what the customer sync reads (``include_fields`` in shopify.app.toml, bound to
Shopify's published bodies), and no customer's phone or name reaches a log line on the way from
a customer webhook to a sent message."""

from __future__ import annotations

import copy
import logging
import tomllib
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import rq
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.models import Customer, InboxEvent, Order, OrderRefund
from core.shopify.orders import ORDER_HANDLERS
from core.shopify.topics import HANDLERS
from jobs.shopify import drain_shopify_inbox
from jobs.worker import run_worker
from sim.shopify.webhooks import included
from tests import shopify_webhooks
from tests.meta_stand_in import whatsapp_shop
from tests.shopify_examples import example_body
from tests.tokens import bearer

APP_TOML = Path(__file__).resolve().parent.parent / "shopify.app.toml"
ORDER_TOPICS = ("orders/create", "orders/updated", "orders/cancelled")
CUSTOMER_TOPICS = ("customers/create", "customers/update")
FULL, REDUCED = "full.myshopify.com", "reduced.myshopify.com"


def _subscription(topic: str) -> dict:
    """The one ``[[webhooks.subscriptions]]`` table of shopify.app.toml that names ``topic``."""
    subscriptions = tomllib.loads(APP_TOML.read_text())["webhooks"]["subscriptions"]
    [found] = [s for s in subscriptions if topic in s.get("topics", [])]
    return found


def include_fields(topic: str) -> list[str]:
    return _subscription(topic)["include_fields"]


def _paid(body: dict) -> dict:
    return body | {"test": False, "financial_status": "paid", "cancelled_at": None, "cancel_reason": None}


def _in_cad(refund: dict) -> dict:
    """The published refund of an order paid in Canadian dollars, two to the shop's dollar."""

    def convert(value: object) -> None:
        if isinstance(value, dict):
            if "presentment_money" in value and "shop_money" in value:
                amount = Decimal(value["shop_money"]["amount"]) * 2
                value["presentment_money"] = {"amount": str(amount), "currency_code": "CAD"}
            for inner in value.values():
                convert(inner)
        elif isinstance(value, list):
            for inner in value:
                convert(inner)

    convert(refund)
    for transaction in refund["transactions"]:
        transaction["currency"] = "CAD"
    return refund


def order_bodies() -> list[tuple[str, dict]]:
    """Shopify's published order bodies of each topic, then orders/updated bodies carrying the
    published refund (in the shop's currency and in another one) and an order with no customer,
    each with an order id of its own."""
    bodies = [(topic, example_body(topic)) for topic in ORDER_TOPICS]
    refund = example_body("refunds/create")
    bodies.append(("orders/updated", _paid(example_body("orders/updated")) | {"refunds": [refund]}))
    in_cad = _paid(example_body("orders/updated")) | {"presentment_currency": "CAD"}
    bodies.append(("orders/updated", in_cad | {"refunds": [_in_cad(copy.deepcopy(refund)) | {"id": 7002}]}))
    bodies.append(("orders/create", _paid(example_body("orders/create")) | {"customer": None}))
    for n, (_topic, body) in enumerate(bodies):
        body["id"] += n
        for refund_body in body["refunds"]:
            refund_body["order_id"] = body["id"]
    return bodies


def _stored(make, shop_id: int) -> tuple[list, list]:
    """The shop's orders and refunds as attribution reads them."""
    with Session(make.engine) as session:
        orders = session.execute(
            select(
                Order.shopify_order_id,
                Order.shopify_customer_id,
                Order.total,
                Order.currency,
                Order.ordered_at,
                Order.cancelled_at,
                Order.shopify_updated_at,
                Order.test,
                Order.financial_status,
            )
            .where(Order.shop_id == shop_id)
            .order_by(Order.shopify_order_id)
        ).all()
        refunds = session.execute(
            select(
                OrderRefund.shopify_refund_id,
                OrderRefund.shopify_order_id,
                OrderRefund.amount,
                OrderRefund.refunded_at,
            )
            .where(OrderRefund.shop_id == shop_id)
            .order_by(OrderRefund.shopify_refund_id)
        ).all()
    return [tuple(row) for row in orders], [tuple(row) for row in refunds]


def test_order_topics_ask_shopify_for_only_what_attribution_reads():
    """The order topics share one subscription with ``include_fields``: the customer's id, never
    the customer (name, phone, email, addresses); ``updated_at`` is among them, so Shopify never
    drops a change as a duplicate; refunds/create is a subscription of its own, left whole."""
    fields = include_fields("orders/create")
    assert all(include_fields(topic) == fields for topic in ORDER_TOPICS)
    assert "updated_at" in fields and "customer.id" in fields and "customer" not in fields
    assert not {"email", "phone", "billing_address", "shipping_address", "contact_email"} & set(fields)
    assert "include_fields" not in _subscription("refunds/create")


def test_reduced_order_bodies_store_what_the_full_bodies_store(client, make):
    """Each order body signed and posted whole to one shop and reduced to ``include_fields`` to
    another is applied in both, and the two shops then hold the same orders and refunds."""
    full, reduced = make.shop(FULL, currency="USD"), make.shop(REDUCED, currency="USD")
    for topic, body in order_bodies():
        assert shopify_webhooks.post(client, topic, body, shop=FULL).status_code == 200
        small = included(body, include_fields(topic))
        assert shopify_webhooks.post(client, topic, small, shop=REDUCED).status_code == 200
    drain_shopify_inbox()
    with Session(make.engine) as session:
        outcomes = session.execute(select(InboxEvent.outcome, InboxEvent.headers)).all()
    assert {(o, h["X-Shopify-Shop-Domain"]) for o, h in outcomes} == {("applied", FULL), ("applied", REDUCED)}
    orders, refunds = _stored(make, full.id)
    assert len(orders) == len(order_bodies()) and len(refunds) == 2
    assert _stored(make, reduced.id) == (orders, refunds)


class Reads(dict):
    """A body that notes the path of every field read from it, a nested one with a period."""

    def __init__(self, value: dict, seen: set[str], prefix: str = ""):
        super().__init__(value)
        self._seen, self._prefix = seen, prefix

    def _note(self, key: object) -> str:
        path = f"{self._prefix}{key}"
        self._seen.add(path)
        return path

    def _read(self, key: object) -> object:
        return _noted(dict.__getitem__(self, key), self._seen, self._note(key) + ".")

    def __getitem__(self, key):
        self._note(key)
        return self._read(key)

    def __contains__(self, key) -> bool:
        self._note(key)
        return dict.__contains__(self, key)

    def get(self, key, default=None):
        if dict.__contains__(self, key):
            return self._read(key)
        self._note(key)
        return default

    def items(self):
        return [(key, self._read(key)) for key in dict.keys(self)]

    def values(self):
        return [self._read(key) for key in dict.keys(self)]


def _noted(value: object, seen: set[str], prefix: str) -> object:
    if isinstance(value, dict):
        return Reads(value, seen, prefix)
    if isinstance(value, list):
        return [_noted(item, seen, prefix) for item in value]
    return value


def _covered(path: str, fields: list[str]) -> bool:
    """A field read is covered by an included field, by one inside it, or by one it holds."""
    return any(path == f or path.startswith(f + ".") or f.startswith(path + ".") for f in fields)


def test_every_field_the_order_handlers_read_is_in_include_fields(make):
    """The order handlers, run on every order body with each field they read noted, read nothing
    that ``include_fields`` leaves out: a handler that starts reading a new field fails here
    until shopify.app.toml asks Shopify for it."""
    shop = make.shop(FULL, currency="USD")
    for topic, body in order_bodies():
        seen: set[str] = set()
        with Session(make.engine) as session:
            assert ORDER_HANDLERS[topic](session, shop, Reads(body, seen), datetime.now(UTC)) == "applied"
            session.rollback()
        assert "customer.id" in seen or body["customer"] is None
        assert [path for path in sorted(seen) if not _covered(path, include_fields(topic))] == []


def customer_bodies() -> list[tuple[str, dict]]:
    """Shopify's published customer bodies of each topic, one of them with a phone, and an API
    2024-10 body (comma-separated tags, the SMS consent), each with a customer id of its own."""
    bodies = [(topic, example_body(topic)) for topic in CUSTOMER_TOPICS]
    bodies[0][1]["phone"] = "+16135550142"
    older = example_body("customers/update") | {"tags": "vip, wholesale"}
    bodies.append(
        (
            "customers/update",
            older | shopify_webhooks.consent_body(older["id"], "subscribed", older["updated_at"]),
        )
    )
    for n, (_topic, body) in enumerate(bodies):
        body["id"] += n
    return bodies


def _customers(make, shop_id: int) -> list[tuple]:
    with Session(make.engine) as session:
        rows = session.execute(
            select(
                Customer.shopify_customer_id,
                Customer.first_name,
                Customer.last_name,
                Customer.phone,
                Customer.phone_e164,
                Customer.country_code,
                Customer.tags,
                Customer.sms_consent,
                Customer.shopify_updated_at,
            )
            .where(Customer.shop_id == shop_id)
            .order_by(Customer.shopify_customer_id)
        ).all()
    return [tuple(row) for row in rows]


def test_customer_topics_carry_only_what_the_customer_sync_reads(client, make):
    """customers/create and customers/update share a subscription with ``include_fields``: no
    email, no address but the default one's country code, no note. Each published body posted
    whole to one shop and reduced to those fields to another leaves both shops with the same
    customers, and the handler, run with each field it reads noted, reads nothing left out."""
    fields = include_fields("customers/create")
    assert include_fields("customers/update") == fields and "updated_at" in fields
    assert not {"email", "addresses", "default_address", "note", "customer"} & set(fields)
    full, reduced = make.shop(FULL), make.shop(REDUCED)
    for topic, body in customer_bodies():
        assert shopify_webhooks.post(client, topic, body, shop=FULL).status_code == 200
        small = included(body, fields)
        assert "email" not in small and set(small["default_address"]) == {"country_code"}
        assert shopify_webhooks.post(client, topic, small, shop=REDUCED).status_code == 200
        seen: set[str] = set()
        with Session(make.engine) as session:
            assert HANDLERS[topic](session, full, Reads(body, seen), datetime.now(UTC)) == "applied"
            session.rollback()
        assert [path for path in sorted(seen) if not _covered(path, fields)] == []
    drain_shopify_inbox()
    with Session(make.engine) as session:
        assert set(session.scalars(select(InboxEvent.outcome))) == {"applied"}
    customers = _customers(make, full.id)
    assert len(customers) == 3 and any(row[6] == ["vip", "wholesale"] for row in customers)
    assert any(row[5] == "CA" for row in customers) and any(row[4] for row in customers)
    assert _customers(make, reduced.id) == customers


# ---- no phone or name in the logs ---------------------------------------------------------------

PHONE, FIRST, LAST = "+34 612 98 76 54", "Zuleika", "Okonkwo-Frey"
# The number in every form it is written in: as Shopify holds it, E.164, Meta's wa_id, national.
PHONE_FORMS = (PHONE, "+34612987654", "34612987654", "612987654", "612 98 76 54")


class InProcessWorker(rq.SimpleWorker):
    """RQ's worker that runs each job in this process, so the test's log capture sees it."""


def test_no_phone_or_name_reaches_the_logs(client, make, meta, caplog):
    """A customer created and subscribed through Shopify's webhooks, drained, then sent a
    campaign that greets them by name: at DEBUG, no log record of the web app, the drain or the
    send names the customer's number or name."""
    caplog.set_level(logging.DEBUG)
    whatsapp_shop(make, credits=10)
    created = shopify_webhooks.customer_body(
        4242, updated_at="2026-01-15T10:00:00Z", phone=PHONE, first_name=FIRST, last_name=LAST
    )
    consent = shopify_webhooks.whatsapp_consent_body(4242, "SUBSCRIBED", "2026-01-15T10:00:00Z")
    assert shopify_webhooks.post(client, "customers/create", created).status_code == 200
    assert (
        shopify_webhooks.post(
            client, shopify_webhooks.WHATSAPP_CONSENT, consent | {"phone_number": PHONE}
        ).status_code
        == 200
    )
    drain_shopify_inbox()
    draft = {
        "name": "Spring sale",
        "template": {"name": "personal_offer", "language": "en"},
        "parameters": [{"field": "first_name", "fallback": "friend"}, {"text": "SPRING15"}],
    }
    campaign = client.post("/api/campaigns", json=draft, headers=bearer())
    assert campaign.status_code == 201, campaign.json
    assert client.post(f"/api/campaigns/{campaign.json['id']}/launch", headers=bearer()).status_code == 202
    run_worker(burst=True, name="in-process", worker_class=InProcessWorker)

    [sent] = meta.truth()["messages"].values()
    assert sent["to"] == "+34612987654" and sent["parameters"][0] == FIRST  # the data went where it should
    assert "drained 2 shopify webhooks" in caplog.text
    logged = [
        (r.name, r.getMessage() + (caplog.handler.format(r) if r.exc_info else "")) for r in caplog.records
    ]
    leaks = [(name, text) for name, text in logged for value in (*PHONE_FORMS, FIRST, LAST) if value in text]
    assert leaks == []


def test_a_database_error_names_no_parameter(make):
    """A statement the database refuses raises an error whose text (what a log line or a job's
    traceback would print) leaves out the statement's values: a customer's number and name."""
    from core.db import get_engine

    insert = text(
        "INSERT INTO customers (shop_id, shopify_customer_id, first_name, phone)"
        " VALUES (:shop, 1, :name, :phone)"
    )
    with pytest.raises(DBAPIError) as refused, get_engine().begin() as connection:
        connection.execute(insert, {"shop": -1, "name": FIRST, "phone": PHONE})  # no such shop
    assert "customers" in str(refused.value)
    assert [value for value in (PHONE, FIRST) if value in str(refused.value)] == []
