"""Erase a customer's phone number from what the shop still holds, one bounded chunk at a time.

A number outlives its customer row: in the messages we sent (``phone`` as sent, Meta's ``wa_id``;
a ``customers/delete`` detaches them from the customer, and two customer records may share a
number), in parked statuses, and in stored webhook bodies. A redaction finds it in each of those
by the number itself, as a whole value (core/rules/redaction.py): the shop's messages and parked
statuses, Shopify's bodies that came with the shop's ``X-Shopify-Shop-Domain``, and in Meta's
bodies the changes whose ``metadata.phone_number_id`` routes to the shop. Another shop's data is
never read for it, and a body still waiting for its drain keeps every field the drain routes and
binds by, and stays JSON.

Each function works on one chunk (at most CHUNK_ROWS rows, found by key) in its caller's
transaction and answers where the next chunk starts, or None when there is none: the privacy
job (jobs/privacy.py) commits chunk by chunk, so no statement scans a whole shop.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA
from sqlalchemy.orm import Session

from core.counts.billed import apply_after_locking, erasing
from core.rules.redaction import Numbers, parse_json, to_json

CHUNK_ROWS = 1000
# Bodies reach 3 MiB (Meta): a chunk of bodies also stops at this many bytes (the first body is
# always taken), as the Meta drain's batches do.
CHUNK_BODY_BYTES = 16 * 1024 * 1024

_MESSAGES = text("""
    SELECT id, phone, wa_id FROM messages
     WHERE shop_id = :shop_id AND id > :after
     ORDER BY id
     LIMIT :limit
""")
_LOCK = text("""
    SELECT id FROM messages
     WHERE shop_id = :shop_id AND id = ANY(CAST(:ids AS bigint[]))
     ORDER BY id
       FOR UPDATE
""")
_FORGET = text("""
    UPDATE messages m
       SET phone = NULL, wa_id = CASE WHEN :keep_wa_id THEN m.wa_id END, recipient_user_id = NULL
     WHERE m.shop_id = :shop_id AND m.id = ANY(CAST(:ids AS bigint[]))
""")
_PARKED = text("""
    SELECT id, status FROM parked_statuses
     WHERE shop_id = :shop_id AND id > :after
     ORDER BY id
     LIMIT :limit
       FOR UPDATE
""")
_REPARK = text(
    "UPDATE parked_statuses SET status = CAST(:status AS jsonb) WHERE shop_id = :shop_id AND id = :id"
)
# The next chunk of bodies not emptied yet, by id (the partial index ix_inbox_events_bodies).
_BODIES_AFTER = text("""
    SELECT id, octet_length(body) AS size FROM inbox_events
     WHERE octet_length(body) > 0 AND id > :after
     ORDER BY id
     LIMIT :limit
""")
# Of those, the shop's own: Shopify's sent under its domain, Meta's naming one of its numbers.
_SHOP_BODIES = text("""
    SELECT id, source, topic, body FROM inbox_events
     WHERE id = ANY(CAST(:ids AS bigint[])) AND octet_length(body) > 0
       AND ((source = 'shopify' AND lower(headers ->> 'X-Shopify-Shop-Domain') = :domain)
         OR (source = 'meta' AND EXISTS (
                SELECT 1 FROM unnest(:numbers) AS n(value) WHERE position(n.value IN body) > 0)))
     ORDER BY id
       FOR UPDATE
""").bindparams(bindparam("numbers", type_=ARRAY(BYTEA)))
_REWRITE = text("UPDATE inbox_events SET body = :body WHERE id = :id")


# ---- messages ------------------------------------------------------------------------------------


def erase_from_messages(session: Session, shop_id: int, numbers: Numbers, after: int) -> int | None:
    """Erase the numbers from the shop's next chunk of messages after id ``after``."""
    rows = session.execute(_MESSAGES, {"shop_id": shop_id, "after": after, "limit": CHUNK_ROWS}).all()
    sent_to = [r.id for r in rows if numbers.written_in(r.phone) or numbers.written_in(r.wa_id)]
    if sent_to:
        locked = session.execute(_LOCK, {"shop_id": shop_id, "ids": sent_to}).scalars().all()
        forget_sent_numbers(session, shop_id, list(locked))
    return rows[-1].id if len(rows) == CHUNK_ROWS else None


def forget_sent_numbers(
    session: Session, shop_id: int, message_ids: Sequence[int], *, keep_wa_id: bool = False
) -> None:
    """Erase the numbers these messages (locked by the caller) were sent to. What the campaign
    was billed for them stays, now under no calling code (core/counts/billed.py)."""
    if not message_ids:
        return
    billed = erasing(session, shop_id, message_ids)
    session.execute(_FORGET, {"shop_id": shop_id, "ids": list(message_ids), "keep_wa_id": keep_wa_id})
    apply_after_locking(session, shop_id, billed)


# ---- parked statuses -----------------------------------------------------------------------------


def erase_from_parked(session: Session, shop_id: int, numbers: Numbers, after: int) -> int | None:
    """Mask the numbers in the shop's next chunk of parked statuses (Meta's status objects,
    applied later by wamid, which masking leaves as it was)."""
    rows = session.execute(_PARKED, {"shop_id": shop_id, "after": after, "limit": CHUNK_ROWS}).all()
    for row in rows:
        status, changed = numbers.masked(row.status)
        if changed:
            session.execute(_REPARK, {"shop_id": shop_id, "id": row.id, "status": to_json(status).decode()})
    return rows[-1].id if len(rows) == CHUNK_ROWS else None


# ---- stored webhook bodies -----------------------------------------------------------------------


def shop_bodies(
    session: Session, domain: str, phone_number_ids: Sequence[str], after: int
) -> tuple[list, int | None]:
    """The shop's own stored bodies among the next chunk after id ``after``, locked; and where
    the chunk after that starts (None: this was the last)."""
    found = session.execute(_BODIES_AFTER, {"after": after, "limit": CHUNK_ROWS}).all()
    ids, total = [], 0
    for row in found:
        if ids and total + row.size > CHUNK_BODY_BYTES:
            break
        ids.append(row.id)
        total += row.size
    if not ids:
        return [], None
    numbers = [n.encode() for n in phone_number_ids]
    rows = session.execute(_SHOP_BODIES, {"ids": ids, "domain": domain.lower(), "numbers": numbers}).all()
    return rows, (ids[-1] if len(found) == CHUNK_ROWS or len(ids) < len(found) else None)


def erase_from_bodies(
    session: Session, domain: str, phone_number_ids: Sequence[str], numbers: Numbers, after: int
) -> int | None:
    """Mask the numbers in the shop's own bodies of the next chunk: all of a Shopify body, and
    in a Meta body only the changes routed to one of the shop's numbers (a body can carry
    several shops' changes)."""
    rows, next_after = shop_bodies(session, domain, phone_number_ids, after)
    routed = set(phone_number_ids)
    for row in rows:
        body = bytes(row.body)
        masked = (
            _masked_shopify(body, numbers) if row.source == "shopify" else _masked_meta(body, routed, numbers)
        )
        if masked != body:
            session.execute(_REWRITE, {"id": row.id, "body": masked})
    return next_after


def _masked_shopify(body: bytes, numbers: Numbers) -> bytes:
    value = parse_json(body)
    if value is None:
        return numbers.masked_text(body)
    try:
        masked, changed = numbers.masked(value)
    except RecursionError:  # parsed, but deeper than we walk: read it as text
        return numbers.masked_text(body)
    return to_json(masked) if changed else body


def _masked_meta(body: bytes, routed: set[str], numbers: Numbers) -> bytes:
    value = parse_json(body)
    if value is None:
        return numbers.masked_text(body)  # it named one of the shop's numbers
    changed = False
    for change in routed_changes(value, routed):
        try:
            change["value"], touched = numbers.masked(change["value"])
        except RecursionError:
            return numbers.masked_text(body)
        changed |= touched
    return to_json(value) if changed else body


def routed_changes(body: object, routed: set[str]) -> list[dict]:
    """The changes of a Meta body (``entry[].changes[]``) whose ``value.metadata.phone_number_id``
    is one of ``routed``, as the drain reads it (core/meta_webhooks/parse.py)."""
    found = []
    for entry in _dicts(body.get("entry") if isinstance(body, dict) else None):
        for change in _dicts(entry.get("changes")):
            value = change.get("value")
            metadata = value.get("metadata") if isinstance(value, dict) else None
            number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if isinstance(number, (str, int)) and str(number) in routed:
                found.append(change)
    return found


def _dicts(value: object) -> list[dict]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
