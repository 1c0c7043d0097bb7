"""Queues named by workload, and the one way to enqueue a job.

Workers listen to all of them in this order, so webhook drains (what Meta's statuses and the
merchant's live page wait on) go before dispatch, and dispatch before housekeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rq import Queue, Retry
from rq.exceptions import DuplicateJobError
from rq.job import Job

from core.redis import get_redis

WEBHOOKS = "webhooks"
DISPATCH = "dispatch"
MONITOR = "monitor"
DEFAULT = "default"
QUEUE_NAMES = (WEBHOOKS, DISPATCH, MONITOR, DEFAULT)

# Every job has a hard time limit; results are kept briefly, failures long enough to inspect.
JOB_TIMEOUT_S = 300
RESULT_TTL_S = 600
FAILURE_TTL_S = 7 * 24 * 3600
# A job that reads a vendor (Shopify) is retried after 30 s, 2 min and 10 min: an outage or a
# throttled stretch usually passes within those.
VENDOR_RETRY = Retry(max=3, interval=[30, 120, 600])


def queue(name: str) -> Queue:
    return Queue(name, connection=get_redis())


def all_queues() -> list[Queue]:
    return [queue(name) for name in QUEUE_NAMES]


def enqueue(
    queue_name: str,
    func: Callable[..., Any] | str,
    *args: Any,
    job_id: str | None = None,
    unique: bool = False,
    delay: timedelta | None = None,
    timeout: int = JOB_TIMEOUT_S,
    **kwargs: Any,
) -> Job | None:
    """Enqueue ``func(*args, **kwargs)`` on ``queue_name``, after ``delay`` if given (RQ's
    scheduler moves it to the queue when due).

    With ``unique`` the job must carry a ``job_id``, and while a job of that id exists (queued,
    scheduled or running) nothing is enqueued and None is answered: this is how "at most one
    pending per campaign" is kept. A unique job keeps no result, so its id frees up as soon as
    it finishes.
    """
    options = dict(
        job_id=job_id,
        unique=unique,
        job_timeout=timeout,
        failure_ttl=FAILURE_TTL_S,
        result_ttl=0 if unique else RESULT_TTL_S,
    )
    q = queue(queue_name)
    try:
        if delay is not None:
            return q.enqueue_in(delay, func, *args, **options, **kwargs)
        return q.enqueue(func, *args, **options, **kwargs)
    except DuplicateJobError:
        return None
