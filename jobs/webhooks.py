"""Webhook jobs on the WEBHOOKS queue: the Meta inbox drain and its sweeper.

One drain pending at a time, not one job per POST: the endpoint sets a Redis flag after
storing a body, and only the POST that finds it absent enqueues a drain. The flag means "a
drain will look at the inbox after now": a queued drain, or a working one. A drain clears it
just before its last look, so a body stored after that look finds the flag clear and queues the
next drain: no stored body is left without a drain coming. The flag carries a deadline that
lets a busy web process skip Redis for a moment (jobs/drain_flag.py). If Redis is down when a
body arrives it is still acknowledged (it is safe in the inbox), and the periodic sweeper
queues a drain for anything left waiting.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from core.db import session_scope
from core.inbox.store import backlog, drop_applied_bodies
from core.meta_webhooks.apply import release_recorded
from core.meta_webhooks.drain import SOURCE, DrainReport, drain_batch
from core.meta_webhooks.halt import halt_tripped
from core.meta_webhooks.parked import expire_parked, parked_retention
from core.redis import get_redis
from core.settings import get_settings
from jobs.drain_flag import (
    DRAIN_PENDING_KEY,
    PENDING_TTL_S,
    PROMISE_S,
    keep_promise,
    mark_pending,
    release,
    still_promised,
)
from jobs.queues import WEBHOOKS, enqueue, queue

log = logging.getLogger(__name__)

DRAIN_JOB_PREFIX = "meta-drain-"
# A drain hands over to a fresh job after this long, so other webhook jobs get their turn.
DRAIN_TIME_BUDGET_S = 60
# Batch loops a drain runs side by side (see drain_meta_inbox).
DRAIN_LANES = 2
# How long a drain watches an empty inbox before it lets go, and how often it looks.
DRAIN_LINGER_S = 0.25
POLL_S = 0.01
# Events older than this with no drain queued are re-queued by the sweeper.
STALE_AFTER = timedelta(seconds=5)
# An applied body is kept this long (diagnosis, replays), then only its digest stays.
BODY_RETENTION = timedelta(days=1)


def request_drain() -> float:
    """Make sure a drain is pending, one that looks at the inbox after ``PROMISE_S`` from now.
    Answer the deadline the flag holds (epoch seconds): until then a drain is certainly coming.
    Raises Redis errors: the caller decides what they mean."""
    redis = get_redis()
    created, deadline = mark_pending(redis, PROMISE_S)
    if created:
        try:
            _enqueue_drain()
        except Exception:
            redis.delete(DRAIN_PENDING_KEY)  # let the next POST try again
            raise
    return deadline


class DrainRequests:
    """A web process's way to request drains: Redis is asked only when the last deadline it
    read is (nearly) past. One per app, so that an app made afresh (each test) knows nothing."""

    def __init__(self) -> None:
        self._deadline = 0.0  # a plain float: threads racing here at worst ask Redis once more

    def request(self) -> None:
        """Make sure a drain is pending for every body committed before this call."""
        if not still_promised(self._deadline):
            self._deadline = request_drain()


def _enqueue_drain() -> None:
    enqueue(WEBHOOKS, drain_meta_inbox, job_id=DRAIN_JOB_PREFIX + uuid.uuid4().hex)


def drain_meta_inbox(lanes: int | None = None, linger_s: float | None = None) -> dict:
    """The drain job: apply stored Meta webhooks, batch after batch, until none is waiting.

    It runs ``lanes`` batch loops side by side, each with its own transaction: while one lane
    parses a batch in Python, PostgreSQL applies the other's. Lanes never take the same event
    (SKIP LOCKED) and lock messages and campaigns in key order, as concurrent drains do.

    While it works it holds the pending flag, so POSTs queue no other drain, and it watches an
    empty inbox for ``linger_s`` before it lets go: a steady stream of webhooks is applied by
    one drain polling every few milliseconds, not by a job (a fork, new connections) per burst.
    """
    redis = get_redis()
    run = _DrainRun(lanes or DRAIN_LANES, DRAIN_LINGER_S if linger_s is None else linger_s)
    while True:
        mark_pending(redis, 0, restart_ttl=True)
        run.until_quiet()
        # Let go of the flag before the last look: a body stored after this moment sets it
        # again and queues the next drain; one stored before it is seen by this look, and so is
        # one whose web process skipped Redis on the flag's deadline (the look comes after it).
        keep_promise(release(redis))
        if run.out_of_time:
            request_drain()  # hand over to a fresh job, so other webhook jobs get their turn
            break
        if not run.one_more_look():
            break
    if run.batches:
        _log_drain(run.total, run.batches, run.started)
    return {"events": run.total.events, "statuses": run.total.statuses, "parked": run.total.parked}


class _DrainRun:
    """The state the lanes of one drain job share."""

    def __init__(self, lanes: int, linger_s: float) -> None:
        self.lanes, self.linger_s = lanes, linger_s
        self.started = self.flag_refreshed = time.monotonic()
        self.total, self.batches, self.out_of_time = DrainReport(), 0, False
        self.set_aside: set[int] = set()  # events that failed in this drain: left for the next
        self._lock = threading.Lock()

    def until_quiet(self) -> None:
        if self.lanes == 1:
            self._lane(self.linger_s)
            return
        with ThreadPoolExecutor(self.lanes, thread_name_prefix="drain-lane") as pool:
            list(pool.map(lambda _: self._lane(self.linger_s), range(self.lanes)))

    def one_more_look(self) -> bool:
        before = self.batches
        self._lane(0.0)
        return self.batches > before

    def _lane(self, linger_s: float) -> None:
        quiet_since = None
        while not self.out_of_time:
            if self._batch():
                quiet_since = None
                continue
            now = time.monotonic()
            quiet_since = quiet_since or now
            if now - quiet_since >= linger_s:
                return
            time.sleep(POLL_S)

    def _batch(self) -> bool:
        with session_scope() as session:
            report = drain_batch(session, skip=list(self.set_aside), halt_first=_halt_first)
            if report is not None:
                # Before the commit that releases them: the other lane must not take them again.
                with self._lock:
                    self.set_aside.update(report.failed_ids)
        if report is None:
            return False
        with self._lock:
            self.total.add(report)
            self.batches += 1
            now = time.monotonic()
            self.out_of_time = now - self.started > DRAIN_TIME_BUDGET_S
            if now - self.flag_refreshed > PENDING_TTL_S / 3:  # still working: keep the flag
                self.flag_refreshed = now
                get_redis().expire(DRAIN_PENDING_KEY, PENDING_TTL_S)
        return True


def _halt_first(trips: list[tuple[int, str, str]]) -> None:
    """Halt the campaigns a batch's account-wide failures trip, in a transaction of its own that
    commits before the batch is applied: their dispatch lanes see it at their next check."""
    with session_scope() as session:
        halted = halt_tripped(session, trips)
    if halted:
        log.info("halted %d campaigns on account-wide failures ahead of their batch", halted)


def _log_drain(total: DrainReport, batches: int, started: float) -> None:
    log.info(
        "drained %d meta webhooks in %d batches (%.0f ms): %d statuses applied, %d parked, "
        "%d clicks, %d preferences, %d alerts, %d account changes, %d set aside; outcomes %s",
        total.events,
        batches,
        (time.monotonic() - started) * 1000,
        total.statuses,
        total.parked,
        total.clicks,
        total.preferences,
        total.alerts,
        total.account_changes,
        len(total.failed_ids),
        dict(total.outcomes),
    )


def sweep_meta_inbox() -> dict:
    """The periodic sweeper: queue a drain for events left waiting (Redis was down when they
    arrived, or a drain died), apply parked statuses whose wamid is now recorded, and forget
    parked statuses no message claimed within Meta's retry window, and drop applied bodies
    after their retention (they hold customers' numbers; the digest stays for de-duplication)."""
    with session_scope() as session:
        pending, oldest = backlog(session, SOURCE)
    requeued = False
    if pending and oldest is not None and datetime.now(UTC) - oldest > STALE_AFTER and not _drain_queued():
        mark_pending(get_redis(), 0, restart_ttl=True)
        _enqueue_drain()
        requeued = True
        log.warning("re-queued a drain for %d meta webhooks waiting since %s", pending, oldest.isoformat())
    with session_scope() as session:
        released = release_recorded(session)
    with session_scope() as session:
        expired = expire_parked(session, parked_retention(get_settings().message_ttl_days))
        dropped = drop_applied_bodies(session, SOURCE, datetime.now(UTC) - BODY_RETENTION)
    return {
        "pending": pending,
        "requeued": requeued,
        "released": released,
        "expired": expired,
        "bodies_dropped": dropped,
    }


def _drain_queued() -> bool:
    return any(job_id.startswith(DRAIN_JOB_PREFIX) for job_id in queue(WEBHOOKS).get_job_ids())
