"""The Shopify drain: apply stored webhooks in the order they arrived, each in a savepoint, and
mark them processed in the same transaction.

Shopify delivers at least once, unordered, and retries a delivery with the same
``X-Shopify-Webhook-Id`` and body for hours: identical bytes are one inbox row already (for
good: the retention drops bodies, never their digests), and the ledger of applied deliveries
(ShopifyWebhookDelivery), by webhook id and by ``X-Shopify-Event-Id``, makes any other
redelivery change nothing. Stale data is dropped by the customers' own rules
(core/shopify/customers.py), from the times the signed body carries, and, for the shop-level
topics, by comparing the event's time with the last install.

The HMAC covers the body only. The headers are anyone's to write once they hold a signed body,
so ``X-Shopify-Triggered-At`` is believed only when it dates the event before its arrival:
it can make a late delivery stale, never an old body current (a replayed body is recognised by
its digest before that).

One event never holds up the others. Each batch is taken first (take_batch: every event's
attempt counted and its next try set, committed on its own), then applied (apply_batch), each
event in a savepoint: an event that fails or outlasts the statement timeout is rolled back
alone and waits for its next try while the rest of the batch applies. If the applying
transaction itself is lost (a cut connection, a killed worker), the attempts still count, the
events wait, and their next tries come one event at a time (core/inbox/store.py), so the one at
fault fails alone; after MAX_ATTEMPTS it is set aside as "failed" for an operator to see and
replay (``flask --app web inbox``).

The endpoint stores bodies the one way both webhook endpoints do (web/webhooks/bodies.py, through
core/inbox/writer.py). Shopify's volume is small, so this drain works one event at a time.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from core.inbox import store as inbox
from core.models import Shop, ShopifyWebhookDelivery
from core.shopify.privacy import QUEUED_TOPICS, being_erased
from core.shopify.shapes import BadPayload, parse_time
from core.shopify.topics import PURCHASE_TOPIC, apply_topic, names_its_shop, purchase_gid

log = logging.getLogger(__name__)

SOURCE = "shopify"
BATCH_EVENTS = 500
TOPIC, SHOP_DOMAIN, WEBHOOK_ID = "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"
TRIGGERED_AT, EVENT_ID, API_VERSION = "X-Shopify-Triggered-At", "X-Shopify-Event-Id", "X-Shopify-API-Version"


# Topics that leave the shop uninstalled: its campaigns halt and its WhatsApp account is left.
UNINSTALLING_TOPICS = frozenset({"app/uninstalled", "shop/redact"})


@dataclass(frozen=True)
class Delivery:
    """One stored webhook as the drain reads it."""

    id: int
    topic: str
    shop_domain: str
    webhook_id: str
    event_id: str | None
    triggered_at: datetime  # never after the body arrived
    body: bytes


@dataclass
class DrainReport:
    events: int = 0
    outcomes: Counter = field(default_factory=Counter)
    failed_ids: list[int] = field(default_factory=list)
    finished_exports: set[int] = field(default_factory=set)  # shops whose bulk export is done
    privacy_requests: set[int] = field(default_factory=set)  # shops whose privacy job has work
    uninstalled: set[int] = field(default_factory=set)  # shops whose app/uninstalled was applied
    purchases: set[tuple[int, str]] = field(default_factory=set)  # (shop, purchase id) to read back

    def add(self, other: DrainReport) -> None:
        self.events += other.events
        self.outcomes.update(other.outcomes)
        self.failed_ids += other.failed_ids
        self.finished_exports |= other.finished_exports
        self.privacy_requests |= other.privacy_requests
        self.uninstalled |= other.uninstalled
        self.purchases |= other.purchases


def _delivery(row) -> Delivery:
    headers = row.headers or {}
    return Delivery(
        id=row.id,
        topic=row.topic or headers.get(TOPIC) or "",
        shop_domain=(headers.get(SHOP_DOMAIN) or "").lower(),
        # Without a webhook id (never from Shopify), the stored row itself is the delivery.
        webhook_id=headers.get(WEBHOOK_ID) or f"inbox-{row.id}",
        event_id=headers.get(EVENT_ID) or None,
        triggered_at=_no_later_than(parse_time(headers.get(TRIGGERED_AT)), row.received_at),
        body=bytes(row.body),
    )


def _no_later_than(claimed: datetime | None, received_at: datetime) -> datetime:
    """The unsigned header's time, unless it is missing or after the body's arrival (our own
    clock): then the arrival."""
    return min(claimed, received_at) if claimed is not None else received_at


def take_batch(session: Session, *, limit: int = BATCH_EVENTS) -> list[Delivery]:
    """Count an attempt of the next events and set their next try, in the caller's transaction;
    the caller commits it before apply_batch(), so that a lost apply still counts. Empty when
    nothing is due."""
    return [_delivery(row) for row in inbox.take(session, SOURCE, limit=limit)]


def apply_batch(session: Session, deliveries: Sequence[Delivery]) -> DrainReport:
    """Apply taken events in the caller's transaction, each in a savepoint, and mark them
    processed; an event that fails is rolled back alone and waits for its next try with its
    error noted. Raises only when the transaction itself is lost."""
    mine = inbox.lock_taken(session, [d.id for d in deliveries])
    deliveries = [d for d in deliveries if d.id in mine]
    shops = _shops(session, {d.shop_domain for d in deliveries})
    report, outcomes = DrainReport(events=len(deliveries)), {}
    for delivery in deliveries:
        shop = shops.get(delivery.shop_domain)
        try:
            with session.begin_nested():
                outcomes[delivery.id] = _apply(session, delivery, shops)
            if delivery.topic == "bulk_operations/finish" and outcomes[delivery.id][0] == "applied":
                report.finished_exports.add(shops[delivery.shop_domain].id)
            if delivery.topic in QUEUED_TOPICS and outcomes[delivery.id][0] == "applied":
                report.privacy_requests.add(shop.id)
            # shop/redact is applied as the uninstall Shopify may never have sent (topics.py)
            if delivery.topic in UNINSTALLING_TOPICS and outcomes[delivery.id][0] == "applied":
                report.uninstalled.add(shop.id)
            if delivery.topic == PURCHASE_TOPIC and outcomes[delivery.id][0] == "applied":
                report.purchases.add((shop.id, purchase_gid(_json_object(delivery.body) or {}) or ""))
        except DBAPIError as error:
            if error.connection_invalidated:
                raise  # the connection is gone, and the transaction with it
            _note_failure(session, report, delivery, error)
        except Exception as error:  # noqa: BLE001  (whatever it is, it is this event's alone)
            _note_failure(session, report, delivery, error)
    inbox.mark_processed(session, outcomes)
    report.outcomes.update(outcome for outcome, _ in outcomes.values())
    return report


def note_lost_batch(session: Session, deliveries: Sequence[Delivery], error: Exception) -> None:
    """The transaction applying ``deliveries`` was lost: their attempts counted already (they
    wait for their next try); keep why, in the caller's (new) transaction."""
    reason = f"the drain's transaction was lost: {_describe(error)}"
    inbox.record_failures(session, [d.id for d in deliveries], reason)


def _note_failure(session: Session, report: DrainReport, delivery: Delivery, error: Exception) -> None:
    log.warning("shopify webhook %s (%s) failed: %s", delivery.id, delivery.topic, type(error).__name__)
    inbox.record_failure(session, delivery.id, _describe(error))
    report.failed_ids.append(delivery.id)


def _shops(session: Session, domains: set[str]) -> dict[str, Shop]:
    """The shops of these domains, leaving out a shop being erased: its events find no shop."""
    found = session.scalars(select(Shop).where(Shop.domain.in_(domains))).all()
    erased = being_erased(session, [s.id for s in found])
    return {s.domain: s for s in found if s.id not in erased}


def _apply(session: Session, delivery: Delivery, shops: dict[str, Shop]) -> tuple[str, str | None]:
    shop = shops.get(delivery.shop_domain)
    if shop is None:
        return "unknown_shop", None
    if not _first_delivery(session, shop.id, delivery):
        return "duplicate", None
    body = _json_object(delivery.body)
    if body is None:
        return "not_json", None
    if not names_its_shop(delivery.topic, body, delivery.shop_domain):
        log.warning("shopify webhook %s (%s): the body names another shop", delivery.id, delivery.topic)
        return "shop_mismatch", None
    try:
        outcome = apply_topic(session, shop, delivery.topic, body, delivery.triggered_at)
    except BadPayload as problem:
        return "bad_payload", str(problem)[:2000]
    if delivery.topic == "shop/redact" and outcome == "applied":
        shops.pop(delivery.shop_domain, None)  # the shop is being erased: later events find no shop
    return outcome, None


def _json_object(body: bytes) -> dict | None:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _first_delivery(session: Session, shop_id: int, delivery: Delivery) -> bool:
    """Enter the delivery in the ledger; False when its webhook id, or its event id under the
    same topic, is there already (either unique key conflicts)."""
    statement = (
        insert(ShopifyWebhookDelivery.__table__)
        .values(
            shop_id=shop_id,
            webhook_id=delivery.webhook_id[:255],
            topic=delivery.topic[:128],
            event_id=delivery.event_id[:255] if delivery.event_id else None,
        )
        .on_conflict_do_nothing()
        .returning(ShopifyWebhookDelivery.__table__.c.webhook_id)
    )
    return session.execute(statement).first() is not None


def _describe(error: Exception) -> str:
    cause = getattr(error, "orig", None) or error
    first_line = str(cause).splitlines()[0] if str(cause) else ""
    return f"{type(cause).__name__}: {first_line}"[:2000]
