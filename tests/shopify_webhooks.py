"""Signed Shopify webhooks as Shopify sends them, posted through the Flask client."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from core.settings import get_settings
from core.shopify.signature import sign

SHOP = "demo.myshopify.com"


def headers(
    topic: str,
    body: bytes,
    *,
    shop: str = SHOP,
    webhook_id: str | None = None,
    event_id: str | None = None,
    triggered_at: datetime | None = None,
    secret: str | None = None,
) -> dict[str, str]:
    moment = triggered_at or datetime.now(UTC)
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign(secret or get_settings().shopify_api_secret, body),
        "X-Shopify-Shop-Domain": shop,
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": moment.isoformat().replace("+00:00", "Z"),
        "X-Shopify-API-Version": "2026-10",
    }


def post(client, topic: str, payload: dict | bytes, **options):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return client.post("/webhooks/shopify", data=body, headers=headers(topic, body, **options))


def customer_body(
    customer_id: int,
    *,
    updated_at: str,
    phone: str | None = "+34612345678",
    first_name: str = "Ana",
    last_name: str = "Lopez",
    country: str | None = "ES",
) -> dict:
    """A ``customers/create`` / ``customers/update`` body of API 2026-10 (no tags, no consent)."""
    address = {"country_code": country, "country": "Spain", "default": True} if country else None
    return {
        "id": customer_id,
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
        "email": "ana@example.com",
        "first_name": first_name,
        "last_name": last_name,
        "phone": phone,
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": updated_at,
        "addresses": [address] if address else [],
        "default_address": address,
    }


SMS_CONSENT, WHATSAPP_CONSENT = (
    "customers_marketing_consent/update",
    "customers_whats_app_marketing_consent/update",
)


def consent_body(customer_id: int, state: str, at: str) -> dict:
    """A ``customers_marketing_consent/update`` body (SMS), as Shopify's webhook reference shows it."""
    consent = {
        "state": state,
        "opt_in_level": "single_opt_in",
        "consent_updated_at": at,
        "consent_collected_from": "OTHER",
    }
    return {"id": customer_id, "phone": "+34612345678", "sms_marketing_consent": consent}


def whatsapp_consent_body(customer_id: int, state: str, at: str | None) -> dict:
    """A ``customers_whats_app_marketing_consent/update`` body, as Shopify's webhook reference shows it."""
    consent = {"state": state, "opt_in_level": "single_opt_in", "updated_at": at, "collected_from": "other"}
    return {
        "customer_id": customer_id,
        "phone_number": "+34612345678",
        "whats_app_marketing_consent": consent,
    }
