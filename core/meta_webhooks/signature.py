"""Meta's webhook signature: ``X-Hub-Signature-256: sha256=<hex>``, the HMAC-SHA256 of the raw
request body keyed with the app secret.

Always over the bytes exactly as received: Meta signs its escaped-unicode serialisation
(``\\u00e4``), so hashing a re-serialised ``json.dumps(request.json)`` would not match.
"""

from __future__ import annotations

import hashlib
import hmac

HEADER = "X-Hub-Signature-256"
PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value Meta sends for ``body`` (used by tests, benchmarks and stand-ins)."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_valid(secret: str, body: bytes, header: str | None) -> bool:
    """Constant-time check of the header against the body. An empty secret never verifies:
    it would let anyone sign."""
    if not secret or not header or not header.startswith(PREFIX):
        return False
    given = header[len(PREFIX) :].strip().lower().encode("utf-8", errors="replace")
    return hmac.compare_digest(sign(secret, body)[len(PREFIX) :].encode(), given)
