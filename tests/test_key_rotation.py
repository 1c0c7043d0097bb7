"""Rotating secrets without an outage: Fernet keys (validated at start, re-encrypted by
``rotate-keys``) and the Shopify client secret (the previous one accepted meanwhile)."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from sqlalchemy.orm import Session

from core.crypto import decrypt_token, encrypt_token
from core.models import Shop
from core.settings import SettingsError, load_settings
from tests import shopify_webhooks
from tests.tokens import bearer

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()
PREVIOUS_SECRET = "previous-shopify-client-secret-0123456789"


@pytest.mark.parametrize(
    "value",
    ["not-a-key", "c2hvcnQ=", f"{NEW},also-not-a-key", " , "],
    # Named, not shown: NEW is drawn afresh in each process, and parallel runs (pytest-xdist)
    # need every process to collect the same test ids.
    ids=["not-base64", "short", "good-then-bad", "empty-list"],
)
def test_a_bad_fernet_key_stops_the_start_naming_the_variable(value):
    """A key that is not urlsafe base64 of 32 bytes (or an empty list) is refused at start."""
    with pytest.raises(SettingsError, match="TOKEN_ENCRYPTION_KEY"):
        load_settings({"APP_ENV": "development", "TOKEN_ENCRYPTION_KEY": value})


def test_a_bad_fernet_key_stops_the_app_factory(service_urls):
    """create_app refuses to build with a malformed key, before any request."""
    from web import create_app

    with pytest.raises(SettingsError, match="TOKEN_ENCRYPTION_KEY"):
        create_app({"APP_ENV": "test", "TOKEN_ENCRYPTION_KEY": "not-a-key"})


def _use_keys(monkeypatch, keys: str):
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", keys)


def test_rotate_keys_reencrypts_every_stored_token_with_the_first_key(make, monkeypatch, service_urls):
    """After ``flask --app web rotate-keys`` with "NEW,OLD", the old key can be dropped: every
    token (Shopify access and refresh, Meta) still decrypts with NEW alone."""
    _use_keys(monkeypatch, OLD)
    shop = make.shop(
        access_token_ciphertext=encrypt_token("shpat_a"),
        refresh_token_ciphertext=encrypt_token("shprt_b"),
        meta_access_token_ciphertext=encrypt_token("meta_c"),
    )
    other = make.shop("other.myshopify.com", access_token_ciphertext=encrypt_token("shpat_d"))
    _use_keys(monkeypatch, f"{NEW},{OLD}")
    from web import create_app

    result = create_app({"APP_ENV": "test"}).test_cli_runner().invoke(args=["rotate-keys"])
    assert result.exit_code == 0, result.output
    assert "4 tokens" in result.output
    _use_keys(monkeypatch, NEW)
    with Session(make.engine) as session:
        first, second = session.get(Shop, shop.id), session.get(Shop, other.id)
        plain = [
            decrypt_token(first.access_token_ciphertext),
            decrypt_token(first.refresh_token_ciphertext),
            decrypt_token(first.meta_access_token_ciphertext),
            decrypt_token(second.access_token_ciphertext),
        ]
    assert plain == ["shpat_a", "shprt_b", "meta_c", "shpat_d"]


@pytest.fixture
def rotated_secret(monkeypatch, service_urls):
    """An app whose Shopify client secret was just rotated: the previous one is still set."""
    from web import create_app

    monkeypatch.setenv("SHOPIFY_API_SECRET_PREVIOUS", PREVIOUS_SECRET)
    app = create_app({"APP_ENV": "test", "SHOPIFY_API_SECRET_PREVIOUS": PREVIOUS_SECRET})
    return app.test_client()


def test_a_webhook_signed_with_the_previous_secret_is_accepted(rotated_secret, make):
    """During a rotation Shopify may sign with the old secret for an hour: both verify."""
    body = json.dumps({"id": 1, "myshopify_domain": "demo.myshopify.com"}).encode()
    for secret, expected in ((PREVIOUS_SECRET, 200), (None, 200), ("some-other-secret-0000000000", 401)):
        headers = shopify_webhooks.headers("app/uninstalled", body, secret=secret)
        response = rotated_secret.post("/webhooks/shopify", data=body, headers=headers)
        assert response.status_code == expected, secret


def test_a_session_token_signed_with_the_previous_secret_is_accepted(rotated_secret, make):
    """A session token App Bridge signed with the previous secret still opens the API."""
    make.shop("demo.myshopify.com")
    assert rotated_secret.get("/api/campaigns", headers=bearer(secret=PREVIOUS_SECRET)).status_code == 200
    assert rotated_secret.get("/api/campaigns", headers=bearer()).status_code == 200
    refused = rotated_secret.get("/api/campaigns", headers=bearer(secret="some-other-secret-0000000000"))
    assert refused.status_code == 401


def test_without_a_previous_secret_only_the_current_one_verifies(client, make):
    """With no rotation under way, a token signed with another secret is refused."""
    make.shop("demo.myshopify.com")
    assert client.get("/api/campaigns", headers=bearer(secret=PREVIOUS_SECRET)).status_code == 401
