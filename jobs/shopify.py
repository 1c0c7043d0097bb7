"""Shopify's webhook drain (one pending at a time, as for Meta) and its sweeper, with the
retention of applied bodies. The customer import is in jobs/customer_import.py."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from core.db import session_scope
from core.inbox.store import backlog
from core.redis import get_redis
from core.rules.failure_codes import OurCode
from core.shopify.drain import SOURCE, DrainReport, drain_batch
from jobs.customer_import import request_bulk_import
from jobs.queues import DISPATCH, WEBHOOKS, enqueue, queue
from jobs.whatsapp import release_whatsapp

log = logging.getLogger(__name__)

DRAIN_PENDING_KEY = "webhooks:shopify:drain-pending"
DRAIN_JOB_PREFIX = "shopify-drain-"
PENDING_TTL_S = 300
DRAIN_TIME_BUDGET_S = 60
STALE_AFTER = timedelta(seconds=5)
# Applied bodies hold customers' personal data: kept a week (Shopify retries for 4 hours and may
# deliver a day late). The ledger of applied deliveries outlives them, to recognise late copies.
RETENTION_KEY = "shopify:retention-swept"
INBOX_RETENTION = timedelta(days=7)
LEDGER_RETENTION = timedelta(days=30)

_PURGE_INBOX = text(
    "DELETE FROM inbox_events"
    " WHERE source = 'shopify' AND processed_at IS NOT NULL AND processed_at < :cutoff"
)
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
    """Apply stored Shopify webhooks, batch after batch, until none is waiting."""
    get_redis().delete(DRAIN_PENDING_KEY)  # from here on, a new body queues the next drain
    started, total = time.monotonic(), DrainReport()
    while True:
        with session_scope() as session:
            report = drain_batch(session, skip=total.failed_ids)
        if report is None:
            break
        total.add(report)
        for shop_id in report.finished_exports:
            request_bulk_import(shop_id)
        for shop_id in report.uninstalled:  # committed: now halt its campaigns, leave its WABA
            enqueue(DISPATCH, release_whatsapp, shop_id, str(OurCode.APP_UNINSTALLED))
        if time.monotonic() - started > DRAIN_TIME_BUDGET_S:
            request_shopify_drain()
            break
    if total.events:
        log.info("drained %d shopify webhooks: %s", total.events, dict(total.outcomes))
    return {"events": total.events, "outcomes": dict(total.outcomes), "failed": len(total.failed_ids)}


def sweep_shopify_inbox() -> dict:
    """Periodic: queue a drain for webhooks left waiting (Redis was down when they came, or a
    drain died), and at most hourly forget applied bodies and old ledger entries."""
    with session_scope() as session:
        pending, oldest = backlog(session, SOURCE)
    requeued = False
    if pending and oldest is not None and datetime.now(UTC) - oldest > STALE_AFTER and not _drain_queued():
        get_redis().set(DRAIN_PENDING_KEY, b"1", ex=PENDING_TTL_S)
        enqueue(WEBHOOKS, drain_shopify_inbox, job_id=DRAIN_JOB_PREFIX + uuid.uuid4().hex)
        requeued = True
        log.warning("re-queued a drain for %d shopify webhooks waiting since %s", pending, oldest.isoformat())
    purged = purge_applied() if get_redis().set(RETENTION_KEY, b"1", nx=True, ex=3600) else None
    return {"pending": pending, "requeued": requeued, "purged": purged}


def purge_applied(now: datetime | None = None) -> dict[str, int]:
    now = now or datetime.now(UTC)
    with session_scope() as session:
        bodies = session.execute(_PURGE_INBOX, {"cutoff": now - INBOX_RETENTION}).rowcount
        ledger = session.execute(_PURGE_LEDGER, {"cutoff": now - LEDGER_RETENTION}).rowcount
    return {"bodies": bodies, "ledger": ledger}


def _drain_queued() -> bool:
    return any(job_id.startswith(DRAIN_JOB_PREFIX) for job_id in queue(WEBHOOKS).get_job_ids())
