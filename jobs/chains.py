"""A campaign's jobs: their ids, and the one way to enqueue each (dispatch lanes, the monitor,
the launch of a scheduled campaign).

The job modules (jobs/dispatch.py, jobs/monitor.py, jobs/launch.py) import only this module,
which names their functions by dotted path (as jobs/periodic.py does), so no job module imports
another and the campaign's state machine has one place that knows all its jobs.

RQ's ``unique`` enqueue keeps at most one job of an id queued, scheduled or running. A job
cannot enqueue its own successor under its own id (the running job still holds the id), so it
asks RQ to repeat it instead (``run_again_in``): when it returns, the worker schedules the same
job id again, and there is never a moment with two. A job of that id that died (its work horse
killed, a timeout) would hold the id for good, so ``ensure_job`` replaces a dead one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus, get_current_job
from rq.registry import ScheduledJobRegistry

from core.db import session_scope
from core.dispatch.progress import next_due
from core.dispatch.rate import LANES
from core.models import Shop
from core.redis import get_redis
from jobs.queues import DEFAULT, DISPATCH, MONITOR, enqueue, queue

DEAD = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)
PENDING = (JobStatus.QUEUED, JobStatus.SCHEDULED, JobStatus.STARTED, JobStatus.DEFERRED)

SEND_CAMPAIGN_MESSAGES = "jobs.dispatch.send_campaign_messages"
MONITOR_CAMPAIGN = "jobs.monitor.monitor_campaign_job"
LAUNCH_SCHEDULED_CAMPAIGN = "jobs.launch.launch_scheduled_campaign"
SEND_REST = "jobs.test_then_send.send_rest_job"


def dispatch_job_id(shop_id: int, campaign_id: int, lane: int) -> str:
    return f"dispatch-{shop_id}-{campaign_id}-{lane}"


def monitor_job_id(shop_id: int, campaign_id: int) -> str:
    return f"monitor-{shop_id}-{campaign_id}"


def launch_job_id(shop_id: int, campaign_id: int, at: datetime) -> str:
    # The time is part of the id: a rescheduled campaign gets a new job, and the old one,
    # finding another time on the campaign, does nothing.
    return f"launch-{shop_id}-{campaign_id}-{int(at.timestamp())}"


def start_dispatch(shop_id: int, campaign_id: int) -> None:
    """Queue every lane of a launched campaign, and its monitor (idempotent)."""
    ensure_lanes(shop_id, campaign_id)
    ensure_monitor(shop_id, campaign_id, delay=5)


def ensure_lanes(shop_id: int, campaign_id: int, delay: float | None = None) -> int:
    """Make sure each lane is pending or running within ``delay`` seconds; replace a dead one.
    Answer how many lanes had no live job (and got one)."""
    with session_scope() as session:
        lanes = LANES if session.get(Shop, shop_id) else 1
    restarted = 0
    for lane in range(lanes):
        job_id = dispatch_job_id(shop_id, campaign_id, lane)
        restarted += not job_pending(job_id)
        ensure_job(DISPATCH, SEND_CAMPAIGN_MESSAGES, shop_id, campaign_id, lane, job_id=job_id, delay=delay)
    return restarted


def job_pending(job_id: str) -> bool:
    """Whether a job of ``job_id`` is queued, scheduled or running (not missing, not dead)."""
    try:
        status = Job.fetch(job_id, connection=get_redis()).get_status(refresh=True)
    except NoSuchJobError:
        return False
    return status in PENDING


def keep_dispatch_alive(shop_id: int, campaign_id: int) -> None:
    """Restart the lanes of a campaign whose messages still wait: a lane whose work horse was
    killed leaves them with no job to send them."""
    with session_scope() as session:
        due = next_due(session, shop_id, campaign_id)
    if due is not None:
        ensure_lanes(shop_id, campaign_id, delay=max((due - datetime.now(UTC)).total_seconds(), 0))


def ensure_monitor(shop_id: int, campaign_id: int, delay: float | None = None) -> None:
    """Make sure the campaign's monitor runs within ``delay`` seconds (at most one pending)."""
    job_id = monitor_job_id(shop_id, campaign_id)
    ensure_job(MONITOR, MONITOR_CAMPAIGN, shop_id, campaign_id, job_id=job_id, delay=delay)


def schedule_launch(shop_id: int, campaign_id: int, at: datetime) -> None:
    """Queue the launch of a scheduled campaign for its time ``at``."""
    delay = max((at - datetime.now(at.tzinfo)).total_seconds(), 0)
    job_id = launch_job_id(shop_id, campaign_id, at)
    args = (shop_id, campaign_id, at.isoformat())
    ensure_job(DEFAULT, LAUNCH_SCHEDULED_CAMPAIGN, *args, job_id=job_id, delay=delay)


def enqueue_launch_now(shop_id: int, campaign_id: int) -> None:
    """Queue the launch of a scheduled campaign found due (its own job may have been lost)."""
    job_id = f"launch-{shop_id}-{campaign_id}-due"
    ensure_job(DEFAULT, LAUNCH_SCHEDULED_CAMPAIGN, shop_id, campaign_id, job_id=job_id)


def enqueue_rest_now(shop_id: int, campaign_id: int) -> None:
    """Queue the rest of a test then send whose test has run its hours (at most one pending;
    the job itself does nothing once the rest went)."""
    ensure_job(DEFAULT, SEND_REST, shop_id, campaign_id, job_id=f"rest-{shop_id}-{campaign_id}")


def run_again_in(seconds: float) -> bool:
    """Have the worker run the current job again, under the same id, after ``seconds``.
    False outside a worker (a CLI run): the caller schedules the next run with ensure_job."""
    job = get_current_job()
    if job is None:
        return False
    job.repeats_left = 1
    job.repeat_intervals = [max(0, math.ceil(seconds))]
    return True


def ensure_job(
    queue_name: str, func: Callable[..., Any] | str, *args: Any, job_id: str, delay: float | None = None
) -> Job | None:
    """Make sure a job of ``job_id`` is pending or running, due within ``delay`` seconds. A
    scheduled one due later is moved earlier; a dead one is replaced."""
    when = timedelta(seconds=delay) if delay else None
    job = enqueue(queue_name, func, *args, job_id=job_id, unique=True, delay=when)
    if job is not None:
        return job
    try:
        existing = Job.fetch(job_id, connection=get_redis())
    except NoSuchJobError:  # it finished between our two calls
        return enqueue(queue_name, func, *args, job_id=job_id, unique=True, delay=when)
    status = existing.get_status(refresh=True)
    if status in DEAD:
        existing.delete()
        return enqueue(queue_name, func, *args, job_id=job_id, unique=True, delay=when)
    if status == JobStatus.SCHEDULED:
        _not_later_than(existing, queue_name, datetime.now(UTC) + (when or timedelta(0)))
    return existing


def _not_later_than(job: Job, queue_name: str, due: datetime) -> None:
    registry = ScheduledJobRegistry(queue=queue(queue_name))
    try:
        scheduled = registry.get_scheduled_time(job)
    except NoSuchJobError:
        return
    if scheduled > due:
        registry.schedule(job, due)
