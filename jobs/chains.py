"""Jobs that keep one pending run per campaign: MonitorCampaignJob and dispatch lanes.

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

from core.redis import get_redis
from jobs.queues import enqueue, queue

DEAD = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


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
    queue_name: str, func: Callable[..., Any], *args: Any, job_id: str, delay: float | None = None
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
