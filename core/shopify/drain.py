"""The Shopify drain: apply stored webhooks in the order they arrived, each in a savepoint, and
mark them processed in the same transaction.

Shopify delivers at least once, unordered, and retries a delivery with the same
``X-Shopify-Webhook-Id`` and body for hours: identical bytes are one inbox row already, and the
ledger of applied deliveries (ShopifyWebhookDelivery) makes any other redelivery change
nothing. Stale data is dropped by the customers' own rules (core/shopify/customers.py) and, for
the shop-level topics, by comparing ``X-Shopify-Triggered-At`` with the last install.

The endpoint stores bodies the one way both webhook endpoints do (web/webhooks/bodies.py, through
core/inbox/writer.py). Shopify's volume is small, so this drain claims and marks its rows itself
and works one event at a time.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.models import Shop, ShopifyWebhookDelivery
from core.shopify.shapes import BadPayload, parse_time
from core.shopify.topics import apply_topic, names_its_shop

log = logging.getLogger(__name__)

SOURCE = "shopify"
BATCH_EVENTS = 500
MAX_ATTEMPTS = 5
TOPIC, SHOP_DOMAIN, WEBHOOK_ID = "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-Webhook-Id"
TRIGGERED_AT, EVENT_ID, API_VERSION = "X-Shopify-Triggered-At", "X-Shopify-Event-Id", "X-Shopify-API-Version"

_CLAIM = text(
    """
    SELECT id, topic, headers, body, received_at, attempts
      FROM inbox_events
     WHERE source = 'shopify' AND processed_at IS NULL AND NOT (id = ANY(CAST(:skip AS bigint[])))
     ORDER BY id
     LIMIT :limit
       FOR UPDATE SKIP LOCKED
    """
)
_MARK = text(
    """
    UPDATE inbox_events AS e
       SET processed_at = now(), attempts = e.attempts + 1, outcome = o.outcome, last_error = o.note
      FROM unnest(CAST(:ids AS bigint[]), CAST(:outcomes AS text[]), CAST(:notes AS text[]))
           AS o(id, outcome, note)
     WHERE e.id = o.id
    """
)
_FAIL = text(
    """
    UPDATE inbox_events
       SET attempts = attempts + 1, last_error = :error,
           processed_at = CASE WHEN attempts + 1 >= :max_attempts THEN now() END,
           outcome = CASE WHEN attempts + 1 >= :max_attempts THEN 'failed' END
     WHERE id = :id
    """
).bindparams(bindparam("error"))


@dataclass(frozen=True)
class Delivery:
    """One stored webhook as the drain reads it."""

    id: int
    topic: str
    shop_domain: str
    webhook_id: str
    triggered_at: datetime
    body: bytes


@dataclass
class DrainReport:
    events: int = 0
    outcomes: Counter = field(default_factory=Counter)
    failed_ids: list[int] = field(default_factory=list)
    finished_exports: set[int] = field(default_factory=set)  # shops whose bulk export is done
    uninstalled: set[int] = field(default_factory=set)  # shops whose app/uninstalled was applied

    def add(self, other: DrainReport) -> None:
        self.events += other.events
        self.outcomes.update(other.outcomes)
        self.failed_ids += other.failed_ids
        self.finished_exports |= other.finished_exports
        self.uninstalled |= other.uninstalled


def _delivery(row) -> Delivery:
    headers = row.headers or {}
    return Delivery(
        id=row.id,
        topic=row.topic or headers.get(TOPIC) or "",
        shop_domain=(headers.get(SHOP_DOMAIN) or "").lower(),
        # Without a webhook id (never from Shopify), the stored row itself is the delivery.
        webhook_id=headers.get(WEBHOOK_ID) or f"inbox-{row.id}",
        triggered_at=parse_time(headers.get(TRIGGERED_AT)) or row.received_at,
        body=bytes(row.body),
    )


def drain_batch(
    session: Session, *, limit: int = BATCH_EVENTS, skip: list[int] | None = None
) -> DrainReport | None:
    """Apply one batch in the caller's transaction; None when nothing is waiting."""
    rows = session.execute(_CLAIM, {"limit": limit, "skip": list(skip or [])}).all()
    if not rows:
        return None
    deliveries = [_delivery(row) for row in rows]
    shops = _shops(session, {d.shop_domain for d in deliveries})
    report, outcomes = DrainReport(events=len(rows)), {}
    for delivery in deliveries:
        try:
            with session.begin_nested():
                outcomes[delivery.id] = _apply(session, delivery, shops)
            if delivery.topic == "bulk_operations/finish" and outcomes[delivery.id][0] == "applied":
                report.finished_exports.add(shops[delivery.shop_domain].id)
            if delivery.topic == "app/uninstalled" and outcomes[delivery.id][0] == "applied":
                report.uninstalled.add(shops[delivery.shop_domain].id)
        except OperationalError:
            raise  # the connection or the server: the whole batch goes back
        except Exception as error:
            log.warning(
                "shopify webhook %s (%s) failed: %s", delivery.id, delivery.topic, type(error).__name__
            )
            session.execute(
                _FAIL, {"id": delivery.id, "error": _describe(error), "max_attempts": MAX_ATTEMPTS}
            )
            report.failed_ids.append(delivery.id)
    _mark(session, outcomes)
    report.outcomes.update(outcome for outcome, _ in outcomes.values())
    return report


def _shops(session: Session, domains: set[str]) -> dict[str, Shop]:
    return {s.domain: s for s in session.scalars(select(Shop).where(Shop.domain.in_(domains)))}


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
        shops.pop(delivery.shop_domain, None)  # the shop is gone: later events find no shop
    return outcome, None


def _json_object(body: bytes) -> dict | None:
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _first_delivery(session: Session, shop_id: int, delivery: Delivery) -> bool:
    statement = (
        insert(ShopifyWebhookDelivery.__table__)
        .values(shop_id=shop_id, webhook_id=delivery.webhook_id[:255], topic=delivery.topic[:128])
        .on_conflict_do_nothing()
        .returning(ShopifyWebhookDelivery.__table__.c.webhook_id)
    )
    return session.execute(statement).first() is not None


def _mark(session: Session, outcomes: dict[int, tuple[str, str | None]]) -> None:
    if outcomes:
        ids = list(outcomes)
        session.execute(
            _MARK,
            {"ids": ids, "outcomes": [outcomes[i][0] for i in ids], "notes": [outcomes[i][1] for i in ids]},
        )


def _describe(error: Exception) -> str:
    cause = getattr(error, "orig", None) or error
    first_line = str(cause).splitlines()[0] if str(cause) else ""
    return f"{type(cause).__name__}: {first_line}"[:2000]
