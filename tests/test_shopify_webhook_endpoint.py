"""``POST /webhooks/shopify``: HMAC over the raw bytes (Shopify's published vector), 401 and
nothing stored on a bad or missing HMAC, a good body stored and acknowledged with one drain."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import InboxEvent
from core.shopify import signature
from jobs.queues import WEBHOOKS, queue
from tests.shopify_webhooks import customer_body, headers, post

VECTOR = json.loads((Path(__file__).parent / "fixtures" / "shopify" / "vectors.json").read_text())[
    "webhook_hmac"
][0]


def _stored(make) -> list[InboxEvent]:
    with Session(make.engine) as session:
        return session.scalars(select(InboxEvent).order_by(InboxEvent.id)).all()


def test_the_published_vector_verifies_and_a_changed_byte_does_not():
    """Shopify's vector: base64 HMAC-SHA256 of the raw body with the secret."""
    body = VECTOR["body"].encode()
    assert signature.sign(VECTOR["secret"], body) == VECTOR["hmac_base64"]
    assert signature.is_valid(VECTOR["secret"], body, VECTOR["hmac_base64"])
    assert not signature.is_valid(VECTOR["secret"], body.replace(b": ", b":"), VECTOR["hmac_base64"])
    assert not signature.is_valid("", body, VECTOR["hmac_base64"])


@pytest.fixture
def vector_client(service_urls):
    from web import create_app

    return create_app(
        {"APP_ENV": "test", "TESTING": True, "SHOPIFY_API_SECRET": VECTOR["secret"]}
    ).test_client()


def test_the_endpoint_accepts_the_vector_and_stores_the_exact_bytes(vector_client, make):
    """The vector's body and header, posted as Shopify would: 200, stored byte for byte."""
    body = VECTOR["body"].encode()
    sent = headers("customers/update", body, secret=VECTOR["secret"]) | {
        "X-Shopify-Hmac-Sha256": VECTOR["hmac_base64"]
    }
    response = vector_client.post("/webhooks/shopify", data=body, headers=sent)
    assert response.status_code == 200
    [event] = _stored(make)
    assert bytes(event.body) == body and event.source == "shopify" and event.topic == "customers/update"
    assert event.headers["X-Shopify-Webhook-Id"] == sent["X-Shopify-Webhook-Id"]


@pytest.mark.parametrize(
    "hmac_header",
    [None, "", "not base64!", "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=", "AAAA"],
)
def test_a_bad_or_missing_hmac_is_401_and_nothing_is_stored(client, make, hmac_header):
    """Wrong key, garbage, truncated or absent: 401 and the inbox stays empty."""
    body = json.dumps(customer_body(1, updated_at="2026-02-01T00:00:00Z")).encode()
    sent = headers("customers/update", body)
    if hmac_header is None:
        del sent["X-Shopify-Hmac-Sha256"]
    else:
        sent["X-Shopify-Hmac-Sha256"] = hmac_header
    response = client.post("/webhooks/shopify", data=body, headers=sent)
    assert response.status_code == 401
    assert _stored(make) == [] and queue(WEBHOOKS).count == 0


def test_a_compliance_topic_with_a_bad_hmac_is_401(client, make):
    """App review posts the compliance topics with a bad HMAC and expects 401."""
    body = b'{"shop_id": 1, "shop_domain": "demo.myshopify.com"}'
    sent = headers("shop/redact", body) | {"X-Shopify-Hmac-Sha256": signature.sign("wrong", body)}
    assert client.post("/webhooks/shopify", data=body, headers=sent).status_code == 401
    assert _stored(make) == []


def test_a_signed_body_without_topic_or_shop_is_refused_clearly(client, make):
    """Correctly signed but not from Shopify's delivery (no topic header): 400, nothing stored."""
    body = b"{}"
    sent = headers("customers/update", body)
    del sent["X-Shopify-Topic"]
    response = client.post("/webhooks/shopify", data=body, headers=sent)
    assert response.status_code == 400 and b"X-Shopify-Topic" in response.data
    assert _stored(make) == []


def test_good_bodies_are_stored_once_and_queue_one_drain(client, make):
    """Three deliveries (one a byte-identical retry): two rows, every answer 200, one drain."""
    first = customer_body(1, updated_at="2026-02-01T00:00:00Z")
    second = customer_body(2, updated_at="2026-02-01T00:00:00Z")
    body = json.dumps(first).encode()
    sent = headers("customers/create", body)
    assert client.post("/webhooks/shopify", data=body, headers=sent).status_code == 200
    assert client.post("/webhooks/shopify", data=body, headers=sent).status_code == 200
    assert post(client, "customers/create", second).status_code == 200
    assert len(_stored(make)) == 2
    assert queue(WEBHOOKS).count == 1


def test_an_oversized_body_is_refused(client, make):
    """Over a megabyte is not a Shopify customer body: 413, nothing stored."""
    response = post(client, "customers/update", b"{" + b" " * (1024 * 1024) + b"}")
    assert response.status_code == 413
    with Session(make.engine) as session:
        assert session.scalar(select(func.count()).select_from(InboxEvent)) == 0
