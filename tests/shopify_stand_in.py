"""The Shopify stand-in (``python -m sim.shopify``) as a test fixture: one real server process
per test session, reset before each test that uses it, with the app pointed at it.

Only tests that ask for ``shopify`` start it; every other test runs with Shopify unreachable
(tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import requests

from core.crypto import encrypt_token
from core.settings import get_settings, load_settings
from tests.stand_ins import start_process, wait_until_no_pending_webhooks
from tests.tokens import session_token

# Where the Admin API is for every test that did not ask for the stand-in: a loopback port
# where nothing listens (tests never reach the real Shopify).
UNREACHABLE_SHOPIFY = "http://127.0.0.1:9"


class ShopifyStandIn:
    def __init__(self, url: str):
        self.url = url
        self.http = requests.Session()

    def _ok(self, response: requests.Response):
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        self._ok(self.http.post(f"{self.url}/sim/reset", json={"config": True}, timeout=10))

    def configure(self, **changes) -> dict:
        return self._ok(self.http.put(f"{self.url}/sim/config", json=changes, timeout=10))

    def stats(self) -> dict:
        return self._ok(self.http.get(f"{self.url}/sim/stats", timeout=10))

    def customers(self, shop: str) -> list[dict]:
        return self._ok(self.http.get(f"{self.url}/sim/shops/{shop}/customers", timeout=10))

    def customer(self, shop: str, shopify_id: int) -> dict:
        return next(c for c in self.customers(shop) if c["id"] == shopify_id)

    def put_customers(self, shop: str, customers: list[dict]) -> list[dict]:
        """Replace the shop's customers (the seed format: shopify_id, first_name, phone, ...)."""
        return self._ok(self.http.put(f"{self.url}/sim/shops/{shop}/customers", json=customers, timeout=10))

    def change_customer(self, shop: str, **fields) -> dict:
        return self._ok(self.http.post(f"{self.url}/sim/shops/{shop}/customers", json=fields, timeout=10))

    def expire_tokens(self, shop: str) -> int:
        return self._ok(self.http.post(f"{self.url}/sim/shops/{shop}/expire-tokens", timeout=10))["expired"]

    def send_webhook(self, shop: str, topic: str, **fields) -> dict:
        """Send one signed webhook to the configured webhook_url (or ``url=``) and return the
        app's status and the delivery's webhook id."""
        body = {"shop": shop, "topic": topic, **fields}
        return self._ok(self.http.post(f"{self.url}/sim/webhooks", json=body, timeout=30))

    def exchange(self, shop: str) -> dict:
        """A token exchange as the app home does it (for tests that need a token without a page)."""
        settings = get_settings()
        response = self.http.post(
            f"{self.url}/admin/oauth/access_token",
            json={
                "client_id": settings.shopify_api_key,
                "client_secret": settings.shopify_api_secret,
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": session_token(shop),
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
                "expiring": "1",
            },
            timeout=10,
        )
        return self._ok(response)

    def wait_for_webhooks(self, timeout_s: float = 30) -> None:
        wait_until_no_pending_webhooks(self.stats, timeout_s)


def start_stand_in(*args: str) -> tuple[subprocess.Popen, str]:
    settings = get_settings()
    env = {
        **os.environ,
        "SHOPIFY_API_KEY": settings.shopify_api_key,
        "SHOPIFY_API_SECRET": settings.shopify_api_secret,
    }
    return start_process("sim.shopify", "Shopify", *args, env=env)


@pytest.fixture(scope="session")
def _shopify_process(service_urls):
    process, url = start_stand_in()
    yield url
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def shopify(_shopify_process, app):
    """The stand-in, reset; SHOPIFY_ADMIN_URL points at it for this test, in the environment
    (jobs, CLI) and in the test's app (built before, it read the environment without it)."""
    os.environ["SHOPIFY_ADMIN_URL"] = _shopify_process
    app.config["SETTINGS"] = load_settings()
    stand_in = ShopifyStandIn(_shopify_process)
    stand_in.reset()
    yield stand_in
    os.environ["SHOPIFY_ADMIN_URL"] = UNREACHABLE_SHOPIFY


def installed_shop(make, shopify: ShopifyStandIn, domain: str = "demo.myshopify.com", **fields):
    """A shop holding a real expiring offline token of the stand-in, as after the app home."""
    token = shopify.exchange(domain)
    now = datetime.now(UTC)
    return make.shop(
        domain,
        access_token_ciphertext=encrypt_token(token["access_token"]),
        access_token_expires_at=now + timedelta(seconds=token["expires_in"]),
        refresh_token_ciphertext=encrypt_token(token["refresh_token"]),
        refresh_token_expires_at=now + timedelta(seconds=token["refresh_token_expires_in"]),
        **fields,
    )
