"""Erase a shop (Shopify's ``shop/redact``), one bounded chunk at a time.

Every shop-owned row goes, children before parents, at most CHUNK_ROWS per statement and found
by the primary key (which begins with ``shop_id``), so no statement holds a huge shop's rows or
runs past the statement timeout; the request's own row goes last, with the shop. Then the
shop's stored webhook bodies: Shopify's are emptied (the row and its digest stay, so a late
redelivery is still recognised) except the ``shop/redact`` request itself, which holds no
personal data; in Meta's, the changes routed to the shop's numbers are taken out, and a body
left with nothing is emptied. A body still waiting for its drain is set aside as ``erased``
when nothing of it is left, and otherwise stays valid for the other shops it concerns.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table, delete, exists, select, text, tuple_
from sqlalchemy.orm import Session

from core.models import Base, PrivacyRequest, Shop
from core.rules.redaction import parse_json, to_json
from core.shopify import erasure
from core.shopify.erasure import routed_changes, shop_bodies

REDACT_TOPIC = "shop/redact"

_EMPTY = text("""
    UPDATE inbox_events
       SET body = ''::bytea, headers = '{}'::jsonb, processed_at = coalesce(processed_at, now()),
           outcome = coalesce(outcome, 'erased')
     WHERE id = :id
""")
_REWRITE = text("UPDATE inbox_events SET body = :body WHERE id = :id")


def _shop_tables() -> list[Table]:
    """Every shop-owned table, children first; the privacy requests last (they go with the shop)."""
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name != "shops" and "shop_id" in t.c]
    requests = PrivacyRequest.__table__
    return [t for t in tables if t is not requests]


def delete_rows(session: Session, shop_id: int) -> bool:
    """Delete the next chunk of the shop's rows; False when no row is left to delete."""
    for table in _shop_tables():
        keys = list(table.primary_key.columns)
        chunk = select(*keys).where(table.c.shop_id == shop_id).limit(erasure.CHUNK_ROWS)
        deleted = session.execute(delete(table).where(table.c.shop_id == shop_id, tuple_(*keys).in_(chunk)))
        if deleted.rowcount:
            return True
    return False


def rows_left(session: Session, shop_id: int) -> bool:
    """Whether any shop-owned row is left (an event applied while the erasure ran)."""
    return any(session.scalar(select(exists().where(t.c.shop_id == shop_id))) for t in _shop_tables())


def drop_bodies(session: Session, domain: str, phone_number_ids: Sequence[str], after: int) -> int | None:
    """Empty or cut the shop's own bodies among the next chunk; answer where the next starts."""
    rows, next_after = shop_bodies(session, domain, phone_number_ids, after)
    routed = set(phone_number_ids)
    for row in rows:
        if row.source == "shopify":
            if row.topic != REDACT_TOPIC:
                session.execute(_EMPTY, {"id": row.id})
            continue
        kept = _without_routed(bytes(row.body), routed)
        if kept is None:
            session.execute(_EMPTY, {"id": row.id})
        elif kept != bytes(row.body):
            session.execute(_REWRITE, {"id": row.id, "body": kept})
    return next_after


def _without_routed(body: bytes, routed: set[str]) -> bytes | None:
    """A Meta body without the changes routed to ``routed``; None when nothing else is in it
    (or it cannot be read, and it names one of the shop's numbers)."""
    value = parse_json(body)
    gone = routed_changes(value, routed) if value is not None else []
    if value is None or not gone:
        return None if value is None else body
    gone_ids = {id(change) for change in gone}
    for entry in value["entry"]:
        if isinstance(entry, dict) and isinstance(entry.get("changes"), list):
            entry["changes"] = [c for c in entry["changes"] if id(c) not in gone_ids]
    value["entry"] = [e for e in value["entry"] if not (isinstance(e, dict) and e.get("changes") == [])]
    return to_json(value) if value["entry"] else None


def delete_shop(session: Session, shop_id: int) -> None:
    """The last step: the shop row (its privacy requests go with it, by cascade)."""
    session.execute(delete(Shop).where(Shop.id == shop_id))
