"""Opaque keyset cursors: the sort key of the last row of a page, never an OFFSET."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from werkzeug.exceptions import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(*key: object) -> str:
    raw = json.dumps(key, default=str, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, shape: tuple[type, ...]) -> tuple | None:
    """The sort key a cursor carries, typed by ``shape`` (``int`` or ``datetime`` per part),
    or None for no cursor. Anything this API did not give out (another shape, a float, an id
    beyond PostgreSQL's bigint, nesting, Infinity) is a 400, never a 500."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_CHARS:
        raise _not_ours()
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded), parse_constant=_refuse, parse_float=_refuse)
    except (ValueError, TypeError, RecursionError):
        raise _not_ours() from None
    if not isinstance(key, list) or len(key) != len(shape):
        raise _not_ours()
    return tuple(_part(value, kind) for value, kind in zip(key, shape, strict=True))


MAX_CURSOR_CHARS = 512
BIGINT = 2**63 - 1


def _part(value: object, kind: type) -> object:
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and -BIGINT <= value <= BIGINT:
        return value
    if kind is datetime and isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise _not_ours()


def _refuse(raw: str) -> None:
    raise ValueError(f"not in a cursor: {raw}")


def _not_ours() -> BadRequest:
    return BadRequest("cursor is not one this API gave out")


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
