"""Webhook jobs on the WEBHOOKS queue: the Meta inbox drain and its sweeper.

One drain pending at a time, not one job per POST: the endpoint sets a Redis flag with
``SET NX`` after storing a body, and only the POST that sets it enqueues a drain. The drain
clears the flag as it starts, before it reads the inbox, so a body stored after that moment
finds the flag clear and queues the next drain: no stored body is left without a drain coming.
If Redis is down when a body arrives it is still acknowledged (it is safe in the inbox), and the
periodic sweeper queues a drain for anything left waiting.
"""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from core.db import session_scope
from core.inbox import backlog
from core.meta_webhooks.apply import release_recorded
from core.meta_webhooks.drain import SOURCE, DrainReport, drain_batch
from core.meta_webhooks.parked import expire_parked
from core.redis import get_redis
from core.settings import get_settings
from jobs.queues import WEBHOOKS, enqueue, queue

log = logging.getLogger(__name__)

DRAIN_PENDING_KEY = "webhooks:meta:drain-pending"
DRAIN_JOB_PREFIX = "meta-drain-"
# The flag outlives a lost enqueue by this much at most; the sweeper covers the gap.
PENDING_TTL_S = 300
# A drain hands over to a fresh job after this long, so other webhook jobs get their turn.
DRAIN_TIME_BUDGET_S = 60
# Events older than this with no drain queued are re-queued by the sweeper.
STALE_AFTER = timedelta(seconds=5)


def request_drain() -> bool:
    """Make sure a drain is pending. Answers whether this call queued it; costs one Redis
    ``SET NX`` when one already is. Raises Redis errors: the caller decides what they mean."""
    redis = get_redis()
    if not redis.set(DRAIN_PENDING_KEY, b"1", nx=True, ex=PENDING_TTL_S):
        return False
    try:
        _enqueue_drain()
    except Exception:
        redis.delete(DRAIN_PENDING_KEY)  # let the next POST try again
        raise
    return True


def _enqueue_drain() -> None:
    enqueue(WEBHOOKS, drain_meta_inbox, job_id=DRAIN_JOB_PREFIX + uuid.uuid4().hex)


def drain_meta_inbox() -> dict:
    """The drain job: apply stored Meta webhooks, batch after batch, until none is waiting."""
    get_redis().delete(DRAIN_PENDING_KEY)  # from here on, a new body queues the next drain
    started, total, batches = time.monotonic(), DrainReport(), 0
    while True:
        with session_scope() as session:
            report = drain_batch(session, skip=total.failed_ids)
        if report is None:
            break
        total.add(report)
        batches += 1
        if time.monotonic() - started > DRAIN_TIME_BUDGET_S:
            request_drain()
            break
    if batches:
        log.info(
            "drained %d meta webhooks in %d batches (%.0f ms): %d statuses applied, %d parked, "
            "%d clicks, %d preferences, %d alerts, %d set aside; outcomes %s",
            total.events,
            batches,
            (time.monotonic() - started) * 1000,
            total.statuses,
            total.parked,
            total.clicks,
            total.preferences,
            total.alerts,
            len(total.failed_ids),
            dict(total.outcomes),
        )
    return {"events": total.events, "statuses": total.statuses, "parked": total.parked}


def sweep_meta_inbox() -> dict:
    """The periodic sweeper: queue a drain for events left waiting (Redis was down when they
    arrived, or a drain died), apply parked statuses whose wamid is now recorded, and forget
    parked statuses no message claimed within Meta's retry window."""
    with session_scope() as session:
        pending, oldest = backlog(session, SOURCE)
    requeued = False
    if pending and oldest is not None and datetime.now(UTC) - oldest > STALE_AFTER and not _drain_queued():
        get_redis().set(DRAIN_PENDING_KEY, b"1", ex=PENDING_TTL_S)
        _enqueue_drain()
        requeued = True
        log.warning("re-queued a drain for %d meta webhooks waiting since %s", pending, oldest.isoformat())
    with session_scope() as session:
        released = release_recorded(session)
    with session_scope() as session:
        expired = expire_parked(session, timedelta(days=get_settings().message_ttl_days + 1))
    return {"pending": pending, "requeued": requeued, "released": released, "expired": expired}


def _drain_queued() -> bool:
    return any(job_id.startswith(DRAIN_JOB_PREFIX) for job_id in queue(WEBHOOKS).get_job_ids())
