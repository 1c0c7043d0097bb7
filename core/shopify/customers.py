"""Customers as Shopify describes them, written to our table without ever going back in time.

Shopify's webhooks are at-least-once and unordered, and a full import runs beside them, so
every write is conditional, in one statement per batch:
- the profile (names, phone, country, tags) only from data at least as new as what we hold
  (Shopify's ``updated_at``);
- the WhatsApp marketing consent only from a consent at least as new, and WhatsApp's own
  consent (Admin API 2026-07+) always wins over the SMS consent we fall back on;
- never for a customer deleted or redacted in Shopify (a tombstone; Shopify reuses no ids).
Writers of one shop's customers take a transaction-level advisory lock first, so a deletion
and an import page cannot interleave between the tombstone check and the write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.campaigns import Consent
from core.models import Customer, CustomerTombstone, Message
from core.phones import to_e164

WHATSAPP, SMS = "whatsapp", "sms"
_LOCK_NAMESPACE = 0x53485059  # "SHPY": customer writes of one shop
PHONE_MAX = 64


@dataclass(frozen=True)
class ConsentState:
    consent: Consent
    source: str  # WHATSAPP or SMS
    updated_at: datetime | None


@dataclass(frozen=True)
class CustomerRecord:
    shopify_customer_id: int
    first_name: str
    last_name: str
    phone: str | None
    country_code: str | None
    updated_at: datetime
    tags: list[str] | None = None  # None: the source does not say (webhooks from API 2025-01)
    consent: ConsentState | None = None  # None: the source does not say


def to_consent(state: str | None) -> Consent:
    """Shopify's marketing state (GraphQL ``SUBSCRIBED`` or REST ``subscribed``) as ours."""
    value = (state or "").upper()
    return Consent(value) if value in Consent.__members__ else Consent.UNKNOWN


def country(value: str | None) -> str | None:
    value = (value or "").strip().upper()
    return value if len(value) == 2 and value.isalpha() else None


def lock_customers(session: Session, shop_id: int) -> None:
    session.execute(
        text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
        {"namespace": _LOCK_NAMESPACE, "key": shop_id % 2**31},
    )


def tombstoned(session: Session, shop_id: int, ids: Iterable[int]) -> set[int]:
    ids = list(set(ids))
    if not ids:
        return set()
    query = select(CustomerTombstone.shopify_customer_id).where(
        CustomerTombstone.shop_id == shop_id, CustomerTombstone.shopify_customer_id.in_(ids)
    )
    return set(session.scalars(query))


def _newest(records: Iterable, key, stamp) -> list:
    """One record per customer, the newest (later in the list on a tie): one statement may
    not update a row twice."""
    chosen: dict = {}
    for record in records:
        current = chosen.get(key(record))
        if current is None or _order(stamp(record)) >= _order(stamp(current)):
            chosen[key(record)] = record
    return list(chosen.values())


def _order(moment: datetime | None) -> tuple:
    return (moment is not None, moment.timestamp() if moment else 0.0)


def _consent_wins(incoming_source, incoming_time):
    """SQL: the incoming consent replaces the stored one (see the module's rules)."""
    stored_source, stored_time = Customer.consent_source, Customer.consent_updated_at
    same_and_newer = and_(
        stored_source == incoming_source,
        or_(stored_time.is_(None), incoming_time.is_(None), incoming_time >= stored_time),
    )
    return or_(
        stored_source.is_(None),
        same_and_newer,
        and_(incoming_source == WHATSAPP, stored_source == SMS),
    )


def _consent_set(excluded) -> dict:
    wins = _consent_wins(excluded.consent_source, excluded.consent_updated_at)
    return {
        name: case((wins, getattr(excluded, name)), else_=getattr(Customer, name))
        for name in ("consent", "consent_source", "consent_updated_at")
    }


def _consent_row(state: ConsentState) -> dict:
    return {
        "consent": str(state.consent),
        "consent_source": state.source,
        "consent_updated_at": state.updated_at,
    }


def _profile_row(shop_id: int, r: CustomerRecord) -> dict:
    phone = (r.phone or "").strip()[:PHONE_MAX] or None
    row = {
        "shop_id": shop_id,
        "shopify_customer_id": r.shopify_customer_id,
        "first_name": r.first_name or "",
        "last_name": r.last_name or "",
        "phone": phone,
        "phone_e164": to_e164(phone),
        "country_code": country(r.country_code),
        "shopify_updated_at": r.updated_at,
    }
    if r.tags is not None:
        row["tags"] = list(r.tags)
    if r.consent is not None:
        row |= _consent_row(r.consent)
    return row


def upsert_profiles(session: Session, shop_id: int, records: Iterable[CustomerRecord]) -> int:
    """Insert or update customers from profile data (import pages, create/update webhooks);
    answers how many rows were written. The caller holds lock_customers()."""
    records = _newest(records, lambda r: r.shopify_customer_id, lambda r: r.updated_at)
    gone = tombstoned(session, shop_id, (r.shopify_customer_id for r in records))
    records = [r for r in records if r.shopify_customer_id not in gone]
    written = 0
    # Rows of one statement must name the same columns: group by what the source told us.
    for has_tags, has_consent in {(r.tags is not None, r.consent is not None) for r in records}:
        group = [r for r in records if (r.tags is not None, r.consent is not None) == (has_tags, has_consent)]
        written += _upsert_group(session, shop_id, group)
    return written


def _upsert_group(session: Session, shop_id: int, records: list[CustomerRecord]) -> int:
    statement = insert(Customer.__table__).values([_profile_row(shop_id, r) for r in records])
    excluded = statement.excluded
    newer = or_(
        Customer.shopify_updated_at.is_(None), excluded.shopify_updated_at >= Customer.shopify_updated_at
    )
    columns = ["first_name", "last_name", "phone", "phone_e164", "country_code", "shopify_updated_at"]
    if records[0].tags is not None:
        columns.append("tags")
    keys = ["shop_id", "shopify_customer_id"]
    if records[0].consent is None:
        # Profile only: a stale row is not touched at all (and not counted).
        values = {name: getattr(excluded, name) for name in columns}
        return _written(
            session, statement.on_conflict_do_update(index_elements=keys, set_=values, where=newer)
        )
    # Profile and consent each follow their own clock: one may be stale while the other is not.
    values = {name: case((newer, getattr(excluded, name)), else_=getattr(Customer, name)) for name in columns}
    values |= _consent_set(excluded)
    return _written(session, statement.on_conflict_do_update(index_elements=keys, set_=values))


@dataclass(frozen=True)
class ConsentChange:
    shopify_customer_id: int
    phone: str | None
    state: ConsentState


def apply_consents(session: Session, shop_id: int, changes: Iterable[ConsentChange]) -> int:
    """Consent webhooks: a customer we do not hold yet is created with what the webhook says
    (the import or a create webhook fills in the rest). The caller holds lock_customers()."""
    changes = _newest(changes, lambda c: c.shopify_customer_id, lambda c: c.state.updated_at)
    gone = tombstoned(session, shop_id, (c.shopify_customer_id for c in changes))
    rows = [
        {
            "shop_id": shop_id,
            "shopify_customer_id": c.shopify_customer_id,
            "phone": (c.phone or "").strip()[:PHONE_MAX] or None,
            "phone_e164": to_e164(c.phone),
            **_consent_row(c.state),
        }
        for c in changes
        if c.shopify_customer_id not in gone
    ]
    if not rows:
        return 0
    statement = insert(Customer.__table__).values(rows)
    excluded = statement.excluded
    statement = statement.on_conflict_do_update(
        index_elements=["shop_id", "shopify_customer_id"],
        set_={name: getattr(excluded, name) for name in ("consent", "consent_source", "consent_updated_at")},
        where=_consent_wins(excluded.consent_source, excluded.consent_updated_at),
    )
    return _written(session, statement)


def _written(session: Session, statement) -> int:
    """Rows an upsert inserted or updated (an upsert's rowcount is not reported: count what it
    returns; a row its WHERE kept is not returned)."""
    return len(session.execute(statement.returning(Customer.__table__.c.id)).all())


def remove_customers(session: Session, shop_id: int, ids: Iterable[int], reason: str) -> int:
    """Tombstone and delete customers. A redaction also erases the phone numbers our messages
    kept as sent (the campaign keeps its counts; the message rows lose who they went to).
    The caller holds lock_customers()."""
    ids = sorted(set(ids))
    if not ids:
        return 0
    tombstones = insert(CustomerTombstone.__table__).values(
        [{"shop_id": shop_id, "shopify_customer_id": i, "reason": reason} for i in ids]
    )
    # A redaction outranks a deletion: the record must say the data was erased.
    tombstones = tombstones.on_conflict_do_update(
        index_elements=["shop_id", "shopify_customer_id"],
        set_={"reason": func.greatest(CustomerTombstone.reason, tombstones.excluded.reason)},
    )
    session.execute(tombstones)
    ours = select(Customer.id).where(Customer.shop_id == shop_id, Customer.shopify_customer_id.in_(ids))
    if reason == "redacted":
        session.execute(
            update(Message)
            .where(Message.shop_id == shop_id, Message.customer_id.in_(ours.scalar_subquery()))
            .values(phone=None, recipient_user_id=None)
        )
    deleted = session.execute(
        delete(Customer).where(Customer.shop_id == shop_id, Customer.shopify_customer_id.in_(ids))
    )
    return deleted.rowcount
