"""A Shopify webhook acts on the shop its signed body names, never on the header alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import Customer, InboxEvent, Shop
from tests.shopify_webhooks import SHOP, customer_body, post

OTHER = "other.myshopify.com"
LATER = datetime.now(UTC) + timedelta(minutes=1)


@pytest.fixture
def shops(make):
    """Two shops installed an hour ago (so every event of the test comes after their install,
    however long the suite has run since LATER was set), each with one customer."""
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    installed = [
        make.shop(d, access_token_ciphertext=encrypt_token("shpat_x"), installed_at=an_hour_ago)
        for d in (SHOP, OTHER)
    ]
    for shop in installed:
        make.customer(shop, shopify_customer_id=21, phone="+34612345678")
    return installed


def _outcomes(make) -> list[str]:
    with Session(make.engine) as session:
        return list(session.scalars(select(InboxEvent.outcome).order_by(InboxEvent.id)))


def _customer_count(make, shop) -> int:
    with Session(make.engine) as session:
        return len(session.scalars(select(Customer).where(Customer.shop_id == shop.id)).all())


def _uninstall(make, shop) -> None:
    with Session(make.engine) as session, session.begin():
        session.get(Shop, shop.id).uninstalled_at = datetime.now(UTC) - timedelta(days=2)


def test_shop_redact_naming_another_shop_is_refused(client, make, run_jobs, shops):
    """A signed shop/redact body for one shop, replayed with another shop's header, erases nothing."""
    first, other = shops
    _uninstall(make, first)
    post(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP}, shop=OTHER, triggered_at=LATER)
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, other.id) is not None and session.get(Shop, first.id) is not None
    assert _customer_count(make, other) == 1
    assert _outcomes(make) == ["shop_mismatch"]


def test_shop_redact_erases_a_shop_whose_uninstall_was_missed(client, make, run_jobs, shops):
    """The signed shop/redact is authoritative (Shopify sends none to an installed app): a shop
    still marked installed, its app/uninstalled missed, is erased; the other shop is not."""
    first, other = shops
    post(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP}, triggered_at=LATER)
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, first.id) is None and session.get(Shop, other.id) is not None
    assert _customer_count(make, other) == 1
    assert _outcomes(make) == ["applied"]


def test_shop_redact_erases_an_uninstalled_shop_named_by_its_body(client, make, run_jobs, shops):
    """Body and header agree and the shop was uninstalled: the shop is erased."""
    first, other = shops
    _uninstall(make, first)
    post(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP.upper()})
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, first.id) is None and session.get(Shop, other.id) is not None
    assert _outcomes(make) == ["applied"]


def test_customers_redact_naming_another_shop_is_refused(client, make, run_jobs, shops):
    """A customers/redact body of one shop, sent under another shop's header, erases nobody."""
    post(
        client,
        "customers/redact",
        {"shop_id": 1, "shop_domain": SHOP, "customer": {"id": 21}, "orders_to_redact": []},
        shop=OTHER,
    )
    run_jobs()
    assert [_customer_count(make, s) for s in shops] == [1, 1]
    assert _outcomes(make) == ["shop_mismatch"]


def test_a_body_without_its_shop_cannot_pose_as_a_shop_topic(client, make, run_jobs, shops):
    """A signed customer body replayed as app/uninstalled or a compliance topic changes nothing."""
    topics = ("app/uninstalled", "customers/redact", "shop/redact", "customers/data_request")
    for n, topic in enumerate(topics):  # other customers' bodies: identical bytes are one delivery
        post(client, topic, customer_body(21 + n, updated_at="2026-01-15T10:00:00Z"), shop=OTHER)
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, shops[1].id).uninstalled_at is None
    assert _customer_count(make, shops[1]) == 1
    assert _outcomes(make) == ["shop_mismatch"] * 4


def test_app_uninstalled_names_its_shop_in_the_body(client, make, run_jobs, shops):
    """app/uninstalled acts on the shop its body's myshopify_domain names, when the header agrees."""
    post(client, "app/uninstalled", {"id": 1, "myshopify_domain": SHOP}, shop=OTHER)
    post(client, "app/uninstalled", {"id": 1, "myshopify_domain": SHOP, "name": "Demo"})
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, shops[0].id).uninstalled_at is not None
        assert session.get(Shop, shops[1].id).uninstalled_at is None
    assert _outcomes(make) == ["shop_mismatch", "applied"]
