"""Shopify jobs: the webhook drain (one pending at a time, as for Meta), its sweeper with the
retention of applied bodies, and the customer import.

The import works through pages for at most SYNC_TIME_BUDGET_S, then hands over to a follow-up
job that starts from its cursor: a shop with a hundred thousand customers is over a thousand
throttled pages, far past any single job's time limit.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from rq import Retry
from sqlalchemy import text

from core.db import session_scope
from core.inbox import backlog
from core.redis import get_redis
from core.shopify.admin import AdminClient, ReauthorizationRequired
from core.shopify.drain import SOURCE, DrainReport, drain_batch
from core.shopify.sync import import_page, import_shop_details, mark_synced
from jobs.queues import DEFAULT, WEBHOOKS, enqueue, queue

log = logging.getLogger(__name__)

DRAIN_PENDING_KEY = "webhooks:shopify:drain-pending"
DRAIN_JOB_PREFIX = "shopify-drain-"
PENDING_TTL_S = 300
DRAIN_TIME_BUDGET_S = 60
STALE_AFTER = timedelta(seconds=5)
SYNC_TIME_BUDGET_S = 240
SYNC_JOB_PREFIX = "shopify-customer-sync-"
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


# ---- the customer import -----------------------------------------------------------------------


def request_customer_sync(shop_id: int) -> bool:
    """Queue the full import of the shop's customers unless one is queued or running."""
    job = enqueue(
        DEFAULT,
        sync_customers,
        shop_id,
        job_id=f"{SYNC_JOB_PREFIX}{shop_id}",
        unique=True,
        retry=Retry(max=3, interval=[30, 120, 600]),
    )
    return job is not None


def sync_customers(shop_id: int, cursor: str | None = None, part: int = 0) -> dict:
    """Import the shop's customers from ``cursor`` (the start: None) for a time budget."""
    started = time.monotonic()
    pages = customers = written = 0
    try:
        with AdminClient(shop_id) as client:
            if cursor is None:
                import_shop_details(client, shop_id)
            while True:
                page = import_page(client, shop_id, cursor)
                pages, customers, written = pages + 1, customers + page.customers, written + page.written
                cursor = page.next_cursor
                if cursor is None:
                    mark_synced(shop_id)
                    break
                if time.monotonic() - started > SYNC_TIME_BUDGET_S:
                    _continue_sync(shop_id, cursor, part + 1)
                    break
    except ReauthorizationRequired as error:
        # Not retried: nothing changes until the merchant opens the app (which queues it again).
        log.warning("customer import of shop %s stopped: %s", shop_id, error)
        return {"status": "reauthorization_required", "pages": pages}
    log.info(
        "customer import of shop %s part %d: %d pages, %d customers, %d written",
        shop_id,
        part,
        pages,
        customers,
        written,
    )
    return {
        "status": "done" if cursor is None else "continues",
        "pages": pages,
        "customers": customers,
        "written": written,
    }


def _continue_sync(shop_id: int, cursor: str, part: int) -> None:
    enqueue(
        DEFAULT,
        sync_customers,
        shop_id,
        cursor,
        part,
        job_id=f"{SYNC_JOB_PREFIX}{shop_id}-part-{part}",
        unique=True,
        retry=Retry(max=3, interval=[30, 120, 600]),
    )
