"""Shopify's webhook signature: ``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw
request body keyed with the app's client secret.

Always over the bytes exactly as received, before any JSON parsing: a re-serialised body
(other spacing, key order or escapes) has another digest. Compared in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

HEADER = "X-Shopify-Hmac-Sha256"


def sign(secret: str, body: bytes) -> str:
    """The header value Shopify sends for ``body`` (used by tests and benchmarks)."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of the header against the body. An empty secret never verifies."""
    if not secret or not header:
        return False
    try:
        given = base64.b64decode(header.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return hmac.compare_digest(expected, given)
