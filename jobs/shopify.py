"""Shopify's webhook drain (one pending at a time, as for Meta) and its sweeper, with the
retention of processed bodies. The customer import is in jobs/customer_import.py."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from core.db import session_scope
from core.inbox.store import backlog, drop_applied_bodies
from core.redis import get_redis
from core.rules.failure_codes import OurCode
from core.shopify.drain import SOURCE, DrainReport, apply_batch, note_lost_batch, take_batch
from jobs.billing import request_purchase_check
from jobs.customer_import import request_bulk_import
from jobs.privacy import request_privacy_work
from jobs.queues import DISPATCH, WEBHOOKS, enqueue, queue
from jobs.whatsapp import release_whatsapp

log = logging.getLogger(__name__)

DRAIN_PENDING_KEY = "webhooks:shopify:drain-pending"
DRAIN_JOB_PREFIX = "shopify-drain-"
PENDING_TTL_S = 300
DRAIN_TIME_BUDGET_S = 60
STALE_AFTER = timedelta(seconds=5)
# Shopify's bodies hold protected customer data (names, phones, consents). A body is needed
# only until it is applied: it is applied in the transaction that marks it processed, a
# redelivery or a replay of it is recognised by its digest and the ledger below, never by the
# body, and only an event set aside as failed is ever applied again (`flask --app web inbox
# replay`). So a processed body is emptied an hour after it was processed: long enough to look
# at an outcome that surprised (`bad_payload`, `unreadable`), short enough that the database
# holds a customer's raw data for hours, not days. A failed event keeps its body a week, the
# time an operator has to fix the cause and replay it (each failed attempt is a warning in the
# log, and `flask --app web inbox failed` lists it); after that, replay refuses it, saying its
# body is no longer kept. A body still waiting for an attempt is never emptied.
# Rows and digests stay for good: the HMAC covers the body alone, so a signed body replayed any
# time later, with fresh headers, must still be recognised as one received already. The ledger
# of applied deliveries (webhook and event ids) outlives the bodies, to recognise late copies
# Shopify serialised again (it retries for 4 hours and may deliver a day late).
RETENTION_KEY = "shopify:retention-swept"
RETENTION_SWEEP_S = 600  # the sweeper empties bodies at most this often, so within 70 minutes
APPLIED_BODY_RETENTION = timedelta(hours=1)
FAILED_BODY_RETENTION = timedelta(days=7)
LEDGER_RETENTION = timedelta(days=30)
BODIES_PER_CHUNK = 20_000

_PURGE_LEDGER = text("DELETE FROM shopify_webhook_deliveries WHERE applied_at < :cutoff")


# ---- the drain ---------------------------------------------------------------------------------


def request_shopify_drain() -> bool:
    """Make sure a drain is pending (one Redis ``SET NX`` when one already is). Raises Redis
    errors: the caller decides what they mean."""
    redis = get_redis()
    if not redis.set(DRAIN_PENDING_KEY, b"1", nx=True, ex=PENDING_TTL_S):
        return False
    try:
        enqueue(WEBHOOKS, drain_shopify_inbox, job_id=DRAIN_JOB_PREFIX + uuid.uuid4().hex)
    except Exception:
        redis.delete(DRAIN_PENDING_KEY)
        raise
    return True


def drain_shopify_inbox() -> dict:
    """Apply stored Shopify webhooks, batch after batch, until none is due."""
    get_redis().delete(DRAIN_PENDING_KEY)  # from here on, a new body queues the next drain
    started, total = time.monotonic(), DrainReport()
    while (report := _drain_next_batch()) is not None:
        total.add(report)
        for shop_id in report.finished_exports:
            request_bulk_import(shop_id)
        for shop_id in report.privacy_requests:
            request_privacy_work(shop_id)
        for shop_id, purchase_gid in report.purchases:  # committed: now ask Shopify what it says
            request_purchase_check(shop_id, purchase_gid)
        for shop_id in report.uninstalled:  # committed: now halt its campaigns, leave its WABA
            enqueue(DISPATCH, release_whatsapp, shop_id, str(OurCode.APP_UNINSTALLED))
        if time.monotonic() - started > DRAIN_TIME_BUDGET_S:
            request_shopify_drain()
            break
    if total.events:
        log.info("drained %d shopify webhooks: %s", total.events, dict(total.outcomes))
    return {"events": total.events, "outcomes": dict(total.outcomes), "failed": len(total.failed_ids)}


def _drain_next_batch() -> DrainReport | None:
    """Take the next events (their attempts counted and committed first), then apply them in a
    transaction of their own. If that one is lost, the events wait for their next try with the
    reason kept, and the drain goes on with the events behind them. None when nothing is due."""
    with session_scope() as session:
        taken = take_batch(session)
    if not taken:
        return None
    try:
        with session_scope() as session:
            return apply_batch(session, taken)
    except SQLAlchemyError as error:
        log.error(
            "lost the transaction applying %d shopify webhooks (%s); they wait for their next attempt",
            len(taken),
            type(error).__name__,
        )
        with session_scope() as session:
            note_lost_batch(session, taken, error)
        return DrainReport(events=len(taken), failed_ids=[d.id for d in taken])


def sweep_shopify_inbox() -> dict:
    """Periodic: queue a drain for webhooks left waiting (Redis was down when they came, or a
    drain died), and every ten minutes at most, empty processed bodies past their retention and
    forget old ledger entries."""
    with session_scope() as session:
        pending, oldest = backlog(session, SOURCE)
    requeued = False
    if pending and oldest is not None and datetime.now(UTC) - oldest > STALE_AFTER and not _drain_queued():
        get_redis().set(DRAIN_PENDING_KEY, b"1", ex=PENDING_TTL_S)
        enqueue(WEBHOOKS, drain_shopify_inbox, job_id=DRAIN_JOB_PREFIX + uuid.uuid4().hex)
        requeued = True
        log.warning("re-queued a drain for %d shopify webhooks waiting since %s", pending, oldest.isoformat())
    swept = get_redis().set(RETENTION_KEY, b"1", nx=True, ex=RETENTION_SWEEP_S)
    purged = purge_applied() if swept else None
    return {"pending": pending, "requeued": requeued, "purged": purged}


def purge_applied(now: datetime | None = None) -> dict[str, int]:
    """Empty the bodies processed before their retention, a failed event's before its own
    (chunk by chunk, a transaction each; the rows and digests stay), and forget ledger entries
    past theirs; answer how many of each."""
    now = now or datetime.now(UTC)
    bodies = 0
    while True:
        with session_scope() as session:
            chunk = drop_applied_bodies(
                session,
                SOURCE,
                now - APPLIED_BODY_RETENTION,
                failed_cutoff=now - FAILED_BODY_RETENTION,
                limit=BODIES_PER_CHUNK,
            )
        bodies += chunk
        if chunk < BODIES_PER_CHUNK:
            break
    with session_scope() as session:
        ledger = session.execute(_PURGE_LEDGER, {"cutoff": now - LEDGER_RETENTION}).rowcount
    return {"bodies": bodies, "ledger": ledger}


def _drain_queued() -> bool:
    return any(job_id.startswith(DRAIN_JOB_PREFIX) for job_id in queue(WEBHOOKS).get_job_ids())
