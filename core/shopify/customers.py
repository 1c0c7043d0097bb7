"""Customers as Shopify describes them, written to our table without ever going back in time.

Shopify's webhooks are at-least-once and unordered, and a full import runs beside them, so
every write is conditional, in one statement per batch:
- the profile (names, phone, country, tags) only from data at least as new as what we hold
  (Shopify's ``updated_at``);
- the WhatsApp marketing consent (``consent``) and the SMS marketing consent (``sms_consent``)
  each only from a consent at least as new as the one we hold, each on its own clock. A consent
  Shopify gives without a date (a customer who never answered) replaces only one without a
  date either: it never undoes a stop given inside WhatsApp, nor any dated consent. The same
  consent at the same time again (Shopify echoing a stop we wrote back) changes nothing, so
  the consent keeps where it came from (``consent_source``). SMS consent is never stored as
  WhatsApp consent: whether it counts is the shop's choice, applied when the audience is taken
  (core/campaigns/audience.py);
- a WhatsApp consent from Shopify that wins also ends a stop still waiting to be written back
  (core/shopify/consent_writeback.py): Shopify's newer word replaces it;
- never for a customer deleted or redacted in Shopify (a tombstone; Shopify reuses no ids).
Writers of one shop's customers take a transaction-level advisory lock first, so a deletion
and an import page cannot interleave between the tombstone check and the write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, delete, func, not_, null, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.models import Customer, CustomerTombstone, Message
from core.rules.campaign_states import Consent, ConsentSource
from core.rules.phones import to_e164
from core.shopify.erasure import forget_sent_numbers

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
    consent: ConsentState | None = None  # WhatsApp's; None: the source does not say
    sms: ConsentState | None = None  # SMS's; None: the source does not say


_STATES = frozenset(Consent.__members__)  # (``__members__`` builds a mapping at every call)


def to_consent(state: str | None) -> Consent:
    """Shopify's marketing state (GraphQL ``SUBSCRIBED`` or REST ``subscribed``) as ours; a
    customer who never answered (``NEVER_SUBSCRIBED`` in 2026-10) is NOT_SUBSCRIBED."""
    value = (state or "").upper()
    if value == "NEVER_SUBSCRIBED":
        return Consent.NOT_SUBSCRIBED
    return Consent(value) if value in _STATES else Consent.UNKNOWN


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


def newest_records(records: Iterable[CustomerRecord]) -> list[CustomerRecord]:
    return _newest(records, lambda r: r.shopify_customer_id, lambda r: r.updated_at)


def _order(moment: datetime | None) -> tuple:
    return (moment is not None, moment.timestamp() if moment else 0.0)


def _newer(stored_time, incoming_time):
    """SQL: an incoming consent is at least as new as the stored one. One without a date is
    new only where none is dated (nothing stored yet, or a consent Shopify never dated)."""
    return or_(stored_time.is_(None), and_(incoming_time.is_not(None), incoming_time >= stored_time))


_CONSENT_COLUMNS = {
    WHATSAPP: ("consent", "consent_source", "consent_updated_at"),
    SMS: ("sms_consent", "sms_consent_updated_at"),
}
# A stop waiting to be written back to Shopify (core/shopify/consent_writeback.py).
_WRITEBACK_COLUMNS = ("consent_writeback_at", "consent_writeback_refused", "consent_writeback_retry_at")


def _wins(excluded, channel: str):
    """SQL: the incoming consent of ``channel`` replaces ours: at least as new, and not the
    very consent we hold (same state, same time)."""
    columns = _CONSENT_COLUMNS[channel]
    state, time = columns[0], columns[-1]
    same = and_(
        getattr(Customer, state) == getattr(excluded, state),
        getattr(Customer, time).is_not_distinct_from(getattr(excluded, time)),
    )
    return and_(_newer(getattr(Customer, time), getattr(excluded, time)), not_(same))


def _consent_values(excluded, channel: str, wins) -> dict:
    """The columns a winning consent of ``channel`` sets: its own, and for WhatsApp the end of
    any stop still waiting for Shopify."""
    values = {name: getattr(excluded, name) for name in _CONSENT_COLUMNS[channel]}
    if channel == WHATSAPP:
        values |= dict.fromkeys(_WRITEBACK_COLUMNS, null())
    return {name: case((wins, value), else_=getattr(Customer, name)) for name, value in values.items()}


def _consent_set(excluded, channel: str) -> dict:
    return _consent_values(excluded, channel, _wins(excluded, channel))


def _consent_row(state: ConsentState) -> dict:
    if state.source == SMS:
        return {"sms_consent": str(state.consent), "sms_consent_updated_at": state.updated_at}
    return {
        "consent": str(state.consent),
        "consent_source": str(ConsentSource.SHOPIFY),
        "consent_updated_at": state.updated_at,
    }


def profile_row(shop_id: int, r: CustomerRecord) -> dict:
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
    for state in (r.consent, r.sms):
        if state is not None:
            row |= _consent_row(state)
    return row


def upsert_profiles(session: Session, shop_id: int, records: Iterable[CustomerRecord]) -> int:
    """Insert or update customers from profile data (import pages, create/update webhooks);
    return how many rows were written. The caller holds lock_customers()."""
    records = newest_records(records)
    gone = tombstoned(session, shop_id, (r.shopify_customer_id for r in records))
    records = [r for r in records if r.shopify_customer_id not in gone]
    written = 0
    # Rows of one statement must name the same columns: group by what the source told us.
    for said in {_said(r) for r in records}:
        group = [r for r in records if _said(r) == said]
        statement = insert(Customer.__table__).values([profile_row(shop_id, r) for r in group])
        written += _written(session, upsert_statement(statement, *said))
    return written


def _said(record: CustomerRecord) -> tuple[bool, bool, bool]:
    return record.tags is not None, record.consent is not None, record.sms is not None


def upsert_statement(statement, has_tags: bool, has_whatsapp: bool, has_sms: bool):
    """``statement`` (an INSERT of customer rows) made the conditional upsert of the module's
    rules; the rows carry tags and each consent when the flags say so."""
    excluded = statement.excluded
    newer = or_(
        Customer.shopify_updated_at.is_(None), excluded.shopify_updated_at >= Customer.shopify_updated_at
    )
    columns = ["first_name", "last_name", "phone", "phone_e164", "country_code", "shopify_updated_at"]
    if has_tags:
        columns.append("tags")
    keys = ["shop_id", "shopify_customer_id"]
    if not (has_whatsapp or has_sms):
        # Profile only: a stale row is not touched at all (and not counted).
        values = {name: getattr(excluded, name) for name in columns}
        return statement.on_conflict_do_update(index_elements=keys, set_=values, where=newer)
    # Profile and consents each follow their own clock: one may be stale while another is not.
    values = {name: case((newer, getattr(excluded, name)), else_=getattr(Customer, name)) for name in columns}
    for channel, present in ((WHATSAPP, has_whatsapp), (SMS, has_sms)):
        if present:
            values |= _consent_set(excluded, channel)
    return statement.on_conflict_do_update(index_elements=keys, set_=values)


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
    written = 0
    for channel in _CONSENT_COLUMNS:
        rows = [
            {
                "shop_id": shop_id,
                "shopify_customer_id": c.shopify_customer_id,
                "phone": (c.phone or "").strip()[:PHONE_MAX] or None,
                "phone_e164": to_e164(c.phone),
                **_consent_row(c.state),
            }
            for c in changes
            if c.shopify_customer_id not in gone and c.state.source == channel
        ]
        if not rows:
            continue
        statement = insert(Customer.__table__).values(rows)
        wins = _wins(statement.excluded, channel)
        statement = statement.on_conflict_do_update(
            index_elements=["shop_id", "shopify_customer_id"],
            set_=_consent_values(statement.excluded, channel, wins),
            where=wins,
        )
        written += _written(session, statement)
    return written


def _written(session: Session, statement) -> int:
    """Rows an upsert inserted or updated (an upsert's rowcount is not reported: count what it
    returns; a row its WHERE kept is not returned)."""
    return len(session.execute(statement.returning(Customer.__table__.c.id)).all())


def remove_customers(session: Session, shop_id: int, ids: Iterable[int], reason: str) -> int:
    """Tombstone and delete customers; their messages stay, with no customer (the campaign keeps
    its counts). A redaction also erases the phone numbers our messages kept as sent.
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
        sent = session.scalars(
            select(Message.id)
            .where(Message.shop_id == shop_id, Message.customer_id.in_(ours.scalar_subquery()))
            .order_by(Message.id)
            .with_for_update()
        ).all()
        forget_sent_numbers(session, shop_id, list(sent), keep_wa_id=True)
    # Their messages stay, without them (no ON DELETE SET NULL: migration 0023_citus_keys).
    session.execute(
        update(Message)
        .where(Message.shop_id == shop_id, Message.customer_id.in_(ours.scalar_subquery()))
        .values(customer_id=None)
        .execution_options(synchronize_session=False)
    )
    deleted = session.execute(
        delete(Customer).where(Customer.shop_id == shop_id, Customer.shopify_customer_id.in_(ids))
    )
    return deleted.rowcount
