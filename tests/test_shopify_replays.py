"""Old Shopify webhooks replayed: the HMAC covers the body only, so anyone holding a signed body
can send it again with fresh headers. The body's digest is kept for good (only the body is
dropped after its retention), a delivery of an event already applied is recognised by
X-Shopify-Event-Id, and the unsigned X-Shopify-Triggered-At never dates an event after its
arrival."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import Customer, InboxEvent, Shop
from jobs.shopify import purge_applied
from tests.shopify_webhooks import SHOP, customer_body, post

JAN = "2026-01-15T10:00:00Z"
AFTER_EVERY_RETENTION = timedelta(days=400)


@pytest.fixture
def shop(make):
    return make.shop(SHOP, access_token_ciphertext=encrypt_token("shpat_demo"))


def _outcomes(make) -> list[str]:
    with Session(make.engine) as session:
        return list(session.scalars(select(InboxEvent.outcome).order_by(InboxEvent.id)))


def _reinstall(make, shop: Shop) -> None:
    """The merchant installs the app again: a fresh token, installed now."""
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Shop)
            .where(Shop.id == shop.id)
            .values(
                uninstalled_at=None,
                installed_at=datetime.now(UTC),
                access_token_ciphertext=encrypt_token("shpat_again"),
            )
        )


def test_an_old_uninstall_replayed_after_every_retention_changes_nothing(client, make, run_jobs, shop):
    """app/uninstalled is applied, the shop reinstalls, the retention sweeps run past every
    limit: the same signed bytes sent again with fresh delivery headers are one stored event
    already, and the shop stays installed with its token."""
    body = json.dumps({"id": 1, "myshopify_domain": SHOP, "updated_at": "2026-01-01T00:00:00Z"}).encode()
    assert post(client, "app/uninstalled", body).status_code == 200
    run_jobs()
    _reinstall(make, shop)
    purge_applied(datetime.now(UTC) + AFTER_EVERY_RETENTION)
    assert post(client, "app/uninstalled", body).status_code == 200  # new webhook and event ids, now
    run_jobs()
    with Session(make.engine) as session:
        stored = session.get(Shop, shop.id)
        kept = session.scalars(select(InboxEvent)).all()
    assert stored.uninstalled_at is None and stored.access_token_ciphertext is not None
    assert [(bytes(e.body), e.outcome) for e in kept] == [(b"", "applied")]  # the digest, not the body


def test_a_customer_replayed_after_shop_redact_and_a_reinstall_does_not_come_back(
    client, make, run_jobs, shop
):
    """A shop erased by shop/redact installs again: a customers/create body it received before,
    replayed, brings none of the erased data back."""
    create = json.dumps(customer_body(71, updated_at=JAN)).encode()
    post(client, "customers/create", create)
    post(client, "app/uninstalled", {"id": 1, "myshopify_domain": SHOP})
    run_jobs()
    post(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, shop.id) is None
    again = make.shop(SHOP, access_token_ciphertext=encrypt_token("shpat_again"))
    post(client, "customers/create", create)
    run_jobs()
    with Session(make.engine) as session:
        assert session.scalars(select(Customer).where(Customer.shop_id == again.id)).all() == []


def test_a_second_delivery_of_the_same_event_changes_nothing(client, make, run_jobs, shop):
    """Same X-Shopify-Event-Id and topic under another webhook id, other bytes: a duplicate.
    The same event id under another topic is another delivery of its own."""
    post(client, "customers/update", customer_body(72, updated_at=JAN), webhook_id="w-1", event_id="e-1")
    run_jobs()
    with Session(make.engine) as session, session.begin():
        session.execute(update(Customer).values(first_name="Edited here"))
    copy = customer_body(72, updated_at=JAN) | {"note": "the same event, serialised again"}
    post(client, "customers/update", copy, webhook_id="w-2", event_id="e-1")
    run_jobs()
    with Session(make.engine) as session:
        assert session.scalar(select(Customer.first_name)) == "Edited here"
    create = customer_body(72, updated_at=JAN) | {"note": "its creation"}
    post(client, "customers/create", create, webhook_id="w-3", event_id="e-1")
    run_jobs()
    assert _outcomes(make) == ["applied", "duplicate", "applied"]


def test_a_forged_triggered_at_never_dates_an_uninstall_after_its_arrival(client, make, run_jobs, shop):
    """X-Shopify-Triggered-At is not signed: an app/uninstalled claiming to come from 2099 is
    dated when it arrived."""
    before = datetime.now(UTC)
    post(
        client,
        "app/uninstalled",
        {"id": 1, "myshopify_domain": SHOP},
        triggered_at=datetime(2099, 1, 1, tzinfo=UTC),
    )
    run_jobs()
    with Session(make.engine) as session:
        uninstalled_at = session.get(Shop, shop.id).uninstalled_at
    assert before - timedelta(seconds=5) <= uninstalled_at <= datetime.now(UTC)


def test_a_second_shop_redact_after_another_install_erases_what_that_install_brought(
    client, make, run_jobs, shop
):
    """shop/redact's body is the same for every uninstall of a shop: after a second install and
    uninstall, the same bytes under a new event id are a new request and erase the shop again;
    Shopify's retry of that event (same event id) is one event."""
    redact = json.dumps({"shop_id": 1, "shop_domain": SHOP}).encode()
    post(client, "app/uninstalled", {"id": 1, "myshopify_domain": SHOP, "updated_at": JAN})
    run_jobs()
    post(client, "shop/redact", redact, event_id="redact-1")
    run_jobs()
    again = make.shop(SHOP, access_token_ciphertext=encrypt_token("shpat_again"))
    post(client, "customers/create", customer_body(73, updated_at="2026-06-01T10:00:00Z"))
    post(client, "app/uninstalled", {"id": 1, "myshopify_domain": SHOP, "updated_at": "2026-07-01T00:00:00Z"})
    run_jobs()
    with Session(make.engine) as session:
        assert session.scalar(select(Customer.shopify_customer_id).where(Customer.shop_id == again.id)) == 73
    post(client, "shop/redact", redact, event_id="redact-2")
    post(client, "shop/redact", redact, event_id="redact-2")  # Shopify's retry of the same event
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, again.id) is None
        assert session.scalars(select(Customer)).all() == []
        redacts = session.scalars(select(InboxEvent.outcome).where(InboxEvent.topic == "shop/redact")).all()
    assert redacts == ["applied", "applied"]
