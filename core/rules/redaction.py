"""Which stored values are a customer's phone number, and how a redaction masks them.

A value is the number when the whole value is a phone number written with a phone's characters
only (digits, spaces, ``+``, ``-``, ``.``, ``/``, brackets) and its digits are those of one of
the forms the number is known by: E.164 (with or without its ``+``) or the local form the shop
stored for that customer. Never a part of a longer value: an order id or a phone number id that
holds the same digits is not the number, and another customer whose local number merely ends
like it keeps theirs.

Numbers are known by SHA-256 digests of their digits, so what an erasure keeps while it works
(and a deleted customer's tombstone keeps for a later redaction) is not the number itself.

Masking keeps a body what it was for everything else: JSON stays JSON, and the fields that route
or bind a webhook (Meta's ``metadata``, ids, our callback data) are never touched, whatever
digits they hold.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass

MASK = "redacted"
# Fewer digits than this is not a phone number: a house number or a zip code would match.
MIN_DIGITS = 7
_NON_DIGITS = re.compile(r"\D")
_PHONE_WRITTEN = re.compile(r"\+?[\d\s().\-/]+")
# In a body that is not JSON: a run of a phone's characters that no letter or digit extends.
_PHONE_IN_TEXT = re.compile(rb"(?<![0-9A-Za-z+])\+?[0-9][0-9 ().\-/]*[0-9](?![0-9A-Za-z])")
# Keys whose values route or bind a webhook and identify things, never a customer's number:
# Meta's routing metadata (phone number id, display number), ids (wamids, the WABA, Shopify's
# ids) and the callback data that binds a status to our message.
KEPT_KEYS = frozenset(
    {
        "metadata",
        "id",
        "phone_number_id",
        "display_phone_number",
        "biz_opaque_callback_data",
        "admin_graphql_api_id",
    }
)


def digits_of(phone: str | None) -> str | None:
    """The digits of a phone number as any system writes it, or None when too few to be one."""
    digits = _NON_DIGITS.sub("", phone or "")
    return digits if len(digits) >= MIN_DIGITS else None


def phone_digests(phones: Iterable[str | None]) -> list[bytes]:
    """SHA-256 of each number's digits, sorted and without repeats."""
    return sorted({hashlib.sha256(d.encode()).digest() for p in phones if (d := digits_of(p))})


@dataclass(frozen=True)
class Numbers:
    """The numbers a redaction looks for, by the digests of their digits."""

    digests: frozenset[bytes]

    @classmethod
    def of(cls, digests: Iterable[bytes]) -> Numbers:
        return cls(frozenset(bytes(d) for d in digests))

    def written_in(self, value: object) -> bool:
        """Whether ``value`` is, as a whole, one of the numbers."""
        if not isinstance(value, str) or not _PHONE_WRITTEN.fullmatch(value):
            return False
        digits = digits_of(value)
        return digits is not None and hashlib.sha256(digits.encode()).digest() in self.digests

    def masked(self, value: object) -> tuple[object, bool]:
        """``value`` (parsed JSON) with each string that is one of the numbers replaced by
        MASK, outside KEPT_KEYS; and whether anything was."""
        if isinstance(value, str):
            return (MASK, True) if self.written_in(value) else (value, False)
        if isinstance(value, list):
            items = [self.masked(item) for item in value]
            return [item for item, _ in items], any(changed for _, changed in items)
        if isinstance(value, dict):
            out, changed = {}, False
            for key, item in value.items():
                out[key], touched = (item, False) if key in KEPT_KEYS else self.masked(item)
                changed |= touched
            return out, changed
        return value, False

    def masked_text(self, body: bytes) -> bytes:
        """A body that is not JSON, with each run of a phone's characters that is one of the
        numbers replaced by MASK."""

        def replace(match: re.Match[bytes]) -> bytes:
            return MASK.encode() if self.written_in(match.group().decode()) else match.group()

        return _PHONE_IN_TEXT.sub(replace, body)


def parse_json(body: bytes) -> object | None:
    """The body as JSON, or None when it is not (or is nested too deep to walk)."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def to_json(value: object) -> bytes:
    """JSON text for a body we rewrote: ASCII only, as Meta writes its own, so any string a
    body held (a lone surrogate included) is written back as it was read."""
    return json.dumps(value, ensure_ascii=True).encode()
