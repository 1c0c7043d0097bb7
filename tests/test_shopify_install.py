"""Shopify-managed install: the app home exchanges its session token for an expiring offline
token (against the Shopify stand-in), stores it encrypted, and queues the customer import."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.crypto import decrypt_token
from core.models import Customer, Shop
from tests.browser import admin_query
from tests.tokens import session_token

SHOP = "fresh.myshopify.com"


def _open_home(client, shop=SHOP):
    return client.get("/?" + admin_query(shop, session_token(shop)))


def _shop(make, domain=SHOP) -> Shop | None:
    with Session(make.engine) as session:
        return session.scalar(select(Shop).where(Shop.domain == domain))


def test_first_open_installs_the_shop_with_an_expiring_offline_token(shopify, client, make, run_jobs):
    """A shop we never saw opens the app home: one token exchange, a Shop row holding the
    encrypted access and refresh tokens with their expiries, and its customers imported."""
    response = _open_home(client)
    assert response.status_code == 200
    shop = _shop(make)
    assert shopify.stats()["exchanges"] == 1
    access, refresh = (
        decrypt_token(shop.access_token_ciphertext),
        decrypt_token(shop.refresh_token_ciphertext),
    )
    assert access.startswith("shpat_") and refresh.startswith("shprt_")
    assert access.encode() not in bytes(shop.access_token_ciphertext)  # encrypted at rest
    now = datetime.now(UTC)
    assert timedelta(minutes=55) < shop.access_token_expires_at - now <= timedelta(hours=1)
    assert timedelta(days=89) < shop.refresh_token_expires_at - now <= timedelta(days=90)
    assert shop.scopes == "read_customers,write_customers" and shop.uninstalled_at is None
    run_jobs()
    with Session(make.engine) as session:
        imported = session.scalars(
            select(Customer.shopify_customer_id).where(Customer.shop_id == shop.id)
        ).all()
        synced = session.get(Shop, shop.id).customers_synced_at
    assert sorted(imported) == [c["id"] for c in shopify.customers(SHOP)] and synced is not None


def test_a_usable_token_is_not_exchanged_again(shopify, client, make):
    """Further page loads use the stored token: still one exchange after three loads."""
    for _ in range(3):
        assert _open_home(client).status_code == 200
    assert shopify.stats()["exchanges"] == 1


def test_a_token_expiring_within_five_minutes_is_renewed_on_the_next_page_load(shopify, client, make):
    """Four minutes left is too little: the page load exchanges again and stores the new pair."""
    _open_home(client)
    first = decrypt_token(_shop(make).access_token_ciphertext)
    with Session(make.engine) as session, session.begin():
        session.execute(update(Shop).values(access_token_expires_at=datetime.now(UTC) + timedelta(minutes=4)))
    assert _open_home(client).status_code == 200
    shop = _shop(make)
    assert shopify.stats()["exchanges"] == 2
    assert decrypt_token(shop.access_token_ciphertext) != first
    assert shop.access_token_expires_at - datetime.now(UTC) > timedelta(minutes=55)


def test_a_reinstall_clears_the_uninstall_and_imports_again(shopify, client, make, run_jobs):
    """An uninstalled shop opening the app again is installed anew and re-imported."""
    old = make.shop(
        SHOP,
        uninstalled_at=datetime.now(UTC) - timedelta(days=1),
        installed_at=datetime.now(UTC) - timedelta(days=30),
    )
    assert _open_home(client).status_code == 200
    shop = _shop(make)
    assert shop.id == old.id and shop.uninstalled_at is None
    assert shop.installed_at > datetime.now(UTC) - timedelta(minutes=1)
    run_jobs()
    assert _shop(make).customers_synced_at is not None


def test_a_refused_exchange_leaves_an_unknown_shop_uninstalled(shopify, client, make):
    """Shopify refusing the exchange (here: it holds another client secret) installs nothing and
    says so; nothing is stored."""
    shopify.configure(api_secret="another-secret")
    response = _open_home(client)
    assert response.status_code == 503 and b"has not installed the app" in response.data
    assert _shop(make) is None
    assert shopify.stats()["token_refusals"] == 1


def test_a_known_shop_keeps_its_pages_when_shopify_refuses_and_is_not_asked_again_at_once(
    shopify, client, make
):
    """A shop we serve whose token cannot be renewed still sees its pages, and the next load
    within the minute does not ask Shopify again."""
    make.shop(SHOP)
    shopify.configure(api_secret="another-secret")
    assert _open_home(client).status_code == 200
    assert _open_home(client).status_code == 200
    assert shopify.stats()["token_refusals"] == 1


def test_pages_work_with_no_shopify_reachable(client, make):
    """With no stand-in (the Admin API unreachable), a shop without a token still gets its pages."""
    make.shop("demo.myshopify.com")
    assert _open_home(client, "demo.myshopify.com").status_code == 200
