"""Erase a customer's phone number from everything we hold, not only from the customer row.

A number outlives its customer row in three places: the messages we sent (``phone`` as we
sent to it, Meta's ``wa_id``; a ``customers/delete`` before the redaction has already detached
them from the customer), Meta's stored webhook bodies (``recipient_id``, contacts) and parked
statuses, and Shopify's stored bodies. So erasure looks messages up by the customer's row, by
the number's digits (a stored local number, such as one missing its calling code, matches by
its ending) and by the digests a deletion left on the tombstone, then masks every occurrence of
the numbers it found in the stored bodies. Counts and statuses stay: only who it went to goes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA
from sqlalchemy.orm import Session

from core.counts.billed import apply_after_locking, erasing

MASK = b"redacted"
# Fewer digits than this is not a phone number and would match far too much.
MIN_DIGITS = 7
_NON_DIGITS = re.compile(r"\D")

# The messages of a shop that went to one of the numbers: by customer row, by digits (a local
# number stored without its calling code matches by its ending) or by a tombstone's digests.
_MATCH = """
    m.shop_id = :shop_id AND (
        m.customer_id = ANY(CAST(:customer_ids AS bigint[]))
        OR m.wa_id = ANY(CAST(:digits AS text[]))
        OR sha256(convert_to(coalesce(m.wa_id, ''), 'UTF8')) = ANY(:digests)
        OR EXISTS (
            SELECT 1 FROM unnest(CAST(:digits AS text[])) AS d(value),
                   LATERAL (SELECT regexp_replace(coalesce(m.phone, ''), '\\D', '', 'g') AS own) p
             WHERE length(p.own) >= :min_digits AND right(d.value, length(p.own)) = p.own)
        OR sha256(convert_to(regexp_replace(coalesce(m.phone, ''), '\\D', '', 'g'), 'UTF8')) = ANY(:digests)
    )
"""
_FOUND = text(
    f"SELECT DISTINCT m.phone, m.wa_id FROM messages m WHERE {_MATCH}"
    " AND (m.phone IS NOT NULL OR m.wa_id IS NOT NULL)"
).bindparams(bindparam("digests", type_=ARRAY(BYTEA)))
_LOCK_MATCHED = text(f"SELECT m.id FROM messages m WHERE {_MATCH} ORDER BY m.id FOR UPDATE").bindparams(
    bindparam("digests", type_=ARRAY(BYTEA))
)
_FORGET = text("""
    UPDATE messages m
       SET phone = NULL, wa_id = CASE WHEN :keep_wa_id THEN m.wa_id END, recipient_user_id = NULL
     WHERE m.shop_id = :shop_id AND m.id = ANY(CAST(:ids AS bigint[]))
""")
_BODIES_WITH = text(
    """
    SELECT id, body FROM inbox_events
     WHERE EXISTS (SELECT 1 FROM unnest(:needles) AS n(value) WHERE position(n.value IN body) > 0)
       FOR UPDATE
    """
).bindparams(bindparam("needles", type_=ARRAY(BYTEA)))
_REWRITE = text("UPDATE inbox_events SET body = :body WHERE id = :id")
_PARKED_WITH = text(
    """
    SELECT id, status::text AS status FROM parked_statuses
     WHERE shop_id = :shop_id AND EXISTS (
           SELECT 1 FROM unnest(CAST(:needles AS text[])) AS n(value) WHERE strpos(status::text, n.value) > 0)
    """
)
_REPARK = text(
    "UPDATE parked_statuses SET status = CAST(:status AS jsonb) WHERE shop_id = :shop_id AND id = :id"
)


def digits_of(phone: str | None) -> str | None:
    """The digits of a phone number as any system writes it, or None when too few to be one."""
    digits = _NON_DIGITS.sub("", phone or "")
    return digits if len(digits) >= MIN_DIGITS else None


def phone_digests(phones: Iterable[str | None]) -> list[bytes]:
    """SHA-256 of each number's digits: what a tombstone keeps so that a later redaction finds
    the messages a deletion detached, without keeping the number itself."""
    return sorted({hashlib.sha256(d.encode()).digest() for p in phones if (d := digits_of(p))})


def erase_numbers(
    session: Session,
    shop_id: int,
    phones: Iterable[str | None],
    *,
    customer_ids: Iterable[int] = (),
    digests: Iterable[bytes] = (),
) -> int:
    """Erase ``phones`` (and what the shop's messages to them or to ``customer_ids`` recorded)
    from messages, parked statuses and stored webhook bodies; answer how many messages."""
    params = {
        "shop_id": shop_id,
        "customer_ids": sorted(set(customer_ids)),
        "digits": sorted({d for p in phones if (d := digits_of(p))}),
        "digests": list(digests),
        "min_digits": MIN_DIGITS,
    }
    written = {p for p in phones if p and digits_of(p)}
    for phone, wa_id in session.execute(_FOUND, params):
        written |= {v for v in (phone, wa_id) if v and digits_of(v)}
    params["digits"] = sorted({*params["digits"], *(digits_of(p) for p in written)})
    ids = session.execute(_LOCK_MATCHED, params).scalars().all()
    forget_sent_numbers(session, shop_id, ids)
    forgotten = len(ids)
    needles = sorted({*written, *params["digits"]}, key=len, reverse=True)  # longest first
    if needles:
        _mask_bodies(session, needles)
        _mask_parked(session, shop_id, needles)
    return forgotten


def forget_sent_numbers(
    session: Session, shop_id: int, message_ids: list[int], *, keep_wa_id: bool = False
) -> None:
    """Erase the numbers these messages (locked by the caller) were sent to. What the campaign
    was billed for them stays, now under no calling code (core/counts/billed.py)."""
    if not message_ids:
        return
    billed = erasing(session, shop_id, message_ids)
    session.execute(_FORGET, {"shop_id": shop_id, "ids": list(message_ids), "keep_wa_id": keep_wa_id})
    apply_after_locking(session, shop_id, billed)


def _mask_bodies(session: Session, needles: list[str]) -> None:
    encoded = [n.encode() for n in needles]
    for row in session.execute(_BODIES_WITH, {"needles": encoded}).all():
        session.execute(_REWRITE, {"id": row.id, "body": mask(bytes(row.body), encoded)})


def _mask_parked(session: Session, shop_id: int, needles: list[str]) -> None:
    for row in session.execute(_PARKED_WITH, {"shop_id": shop_id, "needles": needles}).all():
        status = mask(row.status.encode(), [n.encode() for n in needles]).decode()
        session.execute(_REPARK, {"shop_id": shop_id, "id": row.id, "status": status})


def mask(body: bytes, needles: list[bytes]) -> bytes:
    """``body`` with every occurrence of each needle replaced (longest needles first, so a
    local number inside a full one does not leave the calling code's digits as a clue)."""
    for needle in needles:
        body = body.replace(needle, MASK)
    return body
