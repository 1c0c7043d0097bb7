"""The Admin API client against the Shopify stand-in: refresh under a per-shop lock, 401,
throttling, 429 and 5xx retries, userErrors, and no token in any log line."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.crypto import decrypt_token, encrypt_token
from core.models import Shop
from core.shopify.admin import AdminClient, ReauthorizationRequired, ShopifyUnavailable, UserErrors
from core.shopify.queries import CUSTOMER_UPDATE_PHONE, SHOP_DETAILS
from tests.shopify_stand_in import installed_shop

SHOP = "demo.myshopify.com"
# Ten customers with their objects: the stand-in prices it 2 + 10 x 5 = 52 points.
TEN_CUSTOMERS = (
    "{ customers(first: 10) { nodes { id defaultPhoneNumber { phoneNumber }"
    " defaultAddress { countryCodeV2 } smsMarketingConsent { marketingState } tags } } }"
)


class Sleeps(list):
    """Records every wait the client asks for, and really waits."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        time.sleep(seconds)


def _expire_soon(make, shop, seconds: int = 30) -> None:
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Shop)
            .where(Shop.id == shop.id)
            .values(access_token_expires_at=datetime.now(UTC) + timedelta(seconds=seconds))
        )


def _stored(make, shop) -> Shop:
    with Session(make.engine) as session:
        return session.get(Shop, shop.id)


def test_a_token_expiring_within_a_minute_is_refreshed_and_the_pair_stored(shopify, make):
    """30 s left: the client refreshes first, stores the new access and refresh tokens, and the
    spent refresh token is refused by Shopify afterwards."""
    shop = installed_shop(make, shopify, SHOP)
    old_refresh = decrypt_token(shop.refresh_token_ciphertext)
    _expire_soon(make, shop)
    with AdminClient(shop.id) as client:
        assert client.query(SHOP_DETAILS)["shop"]["ianaTimezone"] == "Europe/Madrid"
    stored = _stored(make, shop)
    assert shopify.stats()["refreshes"] == 1
    assert decrypt_token(stored.refresh_token_ciphertext) not in (None, old_refresh)
    assert stored.access_token_expires_at - datetime.now(UTC) > timedelta(minutes=55)
    spent = requests.post(
        f"{shopify.url}/admin/oauth/access_token",
        json={
            "client_id": "dev-shopify-api-key",
            "client_secret": "dev-only-shopify-api-secret-not-for-production",
            "grant_type": "refresh_token",
            "refresh_token": old_refresh,
        },
        timeout=10,
    )
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"


def test_concurrent_clients_refresh_once(shopify, make):
    """Four workers needing a refresh at the same moment: one refresh, all four get answers
    (the stand-in rotates refresh tokens strictly, so a second refresh would have failed)."""
    shop = installed_shop(make, shopify, SHOP)
    _expire_soon(make, shop)
    answers, errors, start = [], [], threading.Barrier(4)

    def work() -> None:
        start.wait()
        try:
            with AdminClient(shop.id) as client:
                answers.append(client.query(SHOP_DETAILS)["shop"]["currencyCode"])
        except Exception as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and answers == ["EUR"] * 4
    assert shopify.stats()["refreshes"] == 1


def test_a_401_refreshes_once_and_retries(shopify, make):
    """Shopify rejecting a token we believed good (expired on its side): refresh, retry, answer."""
    shop = installed_shop(make, shopify, SHOP)
    assert shopify.expire_tokens(SHOP) == 1
    with AdminClient(shop.id) as client:
        assert client.query(SHOP_DETAILS)["shop"]["currencyCode"] == "EUR"
    stats = shopify.stats()
    assert stats["unauthorized"] == 1 and stats["refreshes"] == 1


def test_a_dead_refresh_token_asks_for_the_merchant(shopify, make):
    """An expiring token whose refresh token Shopify refuses: ReauthorizationRequired, no loop."""
    shop = installed_shop(make, shopify, SHOP)
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Shop)
            .where(Shop.id == shop.id)
            .values(
                refresh_token_ciphertext=encrypt_token("shprt_spent"),
                access_token_expires_at=datetime.now(UTC) + timedelta(seconds=10),
            )
        )
    with AdminClient(shop.id) as client, pytest.raises(ReauthorizationRequired):
        client.query(SHOP_DETAILS)
    assert shopify.stats()["token_refusals"] == 1


def test_a_shop_without_any_token_asks_for_the_merchant(shopify, make):
    """No token at all (never opened the app): ReauthorizationRequired before any request."""
    shop = make.shop(SHOP)
    with AdminClient(shop.id) as client, pytest.raises(ReauthorizationRequired):
        client.query(SHOP_DETAILS)
    assert shopify.stats().get("graphql", 0) == 0


def test_throttled_answers_wait_for_the_bucket_then_succeed(shopify, make):
    """A bucket of 60 points and a 52-point query: a second client's request is THROTTLED
    (HTTP 200), waits what the bucket needs at its restore rate, and then gets its data."""
    shopify.configure(bucket=60, restore_rate=50.0)
    shop = installed_shop(make, shopify, SHOP)
    with AdminClient(shop.id) as first:
        first.query(TEN_CUSTOMERS)
    sleeps = Sleeps()
    with AdminClient(shop.id, sleep=sleeps) as second:
        nodes = second.query(TEN_CUSTOMERS)["customers"]["nodes"]
    assert len(nodes) == 10
    assert shopify.stats()["throttled"] >= 1
    # The wait is the deficit at the restore rate: under 52/50 s, never a blind long sleep.
    assert sleeps and all(0 < s <= 52 / 50 for s in sleeps)


def test_a_client_paces_itself_from_the_throttle_status(shopify, make):
    """One client asking twice in a row waits before the second request instead of being
    refused: Shopify never answers it THROTTLED."""
    shopify.configure(bucket=60, restore_rate=50.0)
    shop = installed_shop(make, shopify, SHOP)
    sleeps = Sleeps()
    with AdminClient(shop.id, sleep=sleeps) as client:
        client.query(TEN_CUSTOMERS)
        client.query(TEN_CUSTOMERS)
    assert shopify.stats().get("throttled", 0) == 0 and len(sleeps) == 1


def test_429_honours_retry_after_and_5xx_backs_off(shopify, make):
    """429 with Retry-After 0.3 waits exactly 0.3 s; two 503s back off; then the answer."""
    shop = installed_shop(make, shopify, SHOP)
    shopify.configure(faults=[{"status": 429, "retry_after": 0.3}, {"status": 503}, {"status": 503}])
    sleeps = Sleeps()
    with AdminClient(shop.id, sleep=sleeps, backoff_s=0.05) as client:
        assert client.query(SHOP_DETAILS)["shop"]["currencyCode"] == "EUR"
    assert sleeps[0] == 0.3 and len(sleeps) == 3
    # Exponential from the attempt number (the 429 was attempt 1), with up to 25% jitter.
    assert 0.1 <= sleeps[1] <= 0.125 and 0.2 <= sleeps[2] <= 0.25
    assert shopify.stats()["faults"] == 3


def test_persistent_5xx_gives_up_after_the_attempts(shopify, make):
    """Shopify failing every time: ShopifyUnavailable after max_attempts, not an endless loop."""
    shop = installed_shop(make, shopify, SHOP)
    shopify.configure(faults=[{"status": 502}] * 5)
    with AdminClient(shop.id, max_attempts=3, backoff_s=0.01) as client, pytest.raises(ShopifyUnavailable):
        client.query(SHOP_DETAILS)
    assert shopify.stats()["faults"] == 3


def test_user_errors_are_raised_with_shopifys_fields_and_messages(shopify, make):
    """customerUpdate with a number Shopify refuses answers HTTP 200 with userErrors: raised."""
    shopify.put_customers(
        SHOP, [{"shopify_id": 501, "first_name": "Ana", "phone": None, "country_code": "ES"}]
    )
    shop = installed_shop(make, shopify, SHOP)
    variables = {"input": {"id": "gid://shopify/Customer/501", "phone": "+3412"}}
    with AdminClient(shop.id) as client, pytest.raises(UserErrors) as refused:
        client.mutate(CUSTOMER_UPDATE_PHONE, variables, "customerUpdate", idempotent=True)
    assert refused.value.errors == [{"field": ["phone"], "message": "Phone is invalid"}]


def test_no_token_or_secret_reaches_the_logs(shopify, make, caplog):
    """Refreshing, a 401 and a throttled retry log what happened, never a token or the secret."""
    caplog.set_level(logging.DEBUG)
    shopify.configure(faults=[{"status": 429, "retry_after": 0.05}])
    shop = installed_shop(make, shopify, SHOP)
    _expire_soon(make, shop)
    with AdminClient(shop.id) as client:
        client.query(SHOP_DETAILS)
    shopify.expire_tokens(SHOP)
    with AdminClient(shop.id) as client:
        client.query(SHOP_DETAILS)
    stored = _stored(make, shop)
    secrets = [
        decrypt_token(stored.access_token_ciphertext),
        decrypt_token(stored.refresh_token_ciphertext),
        decrypt_token(shop.access_token_ciphertext),
        "dev-only-shopify-api-secret-not-for-production",
    ]
    assert "access token refreshed" in caplog.text and "retrying" in caplog.text
    assert not [s for s in secrets if s in caplog.text]
