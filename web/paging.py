"""Opaque keyset cursors: the sort key of the last row of a page, never an OFFSET."""

from __future__ import annotations

import base64
import json

from werkzeug.exceptions import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(*key: object) -> str:
    raw = json.dumps(key, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> list | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, TypeError):
        raise BadRequest("cursor is not one this API gave out") from None
    if not isinstance(key, list):
        raise BadRequest("cursor is not one this API gave out")
    return key


def page_limit(raw: str | None, default: int = DEFAULT_LIMIT) -> int:
    if raw is None or raw == "":
        return default
    try:
        limit = int(raw)
    except ValueError:
        raise BadRequest("limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return limit
