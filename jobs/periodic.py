"""Periodic jobs, run by the ordinary workers through RQ's scheduler.

Each run is a scheduled job whose id names its time slot (``periodic-<name>-<slot>``) and is
enqueued with ``unique``: however many workers start, or runs overlap, one job exists per slot.
A run schedules the next slot before it does its work, so a failing run does not stop the
chain, and every worker start schedules the next slot again, which restarts a chain that a
Redis flush lost. Definitions name their function by dotted path, so this module imports no job.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from datetime import timedelta

from rq.utils import import_attribute

from jobs.queues import DEFAULT, WEBHOOKS, enqueue


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    func: str  # dotted path
    interval_s: int
    queue: str


PERIODIC_JOBS = (
    PeriodicJob("meta-inbox-sweep", "jobs.webhooks.sweep_meta_inbox", 10, WEBHOOKS),
    PeriodicJob("shopify-inbox-sweep", "jobs.shopify.sweep_shopify_inbox", 10, WEBHOOKS),
    # A drain stuck or failing for every shop: an ERROR log line past five minutes.
    PeriodicJob("inbox-watch", "jobs.health.watch_inbox", 60, WEBHOOKS),
    # Webhooks can be missed: re-read the customers each shop changed since its last sync.
    PeriodicJob("shopify-customer-resync", "jobs.customer_import.resync_customers", 6 * 3600, DEFAULT),
    PeriodicJob("shopify-consent-writeback", "jobs.customer_import.write_back_consents", 30, DEFAULT),
    # Launch and schedule are durable with their jobs: lanes, monitors, due launches (jobs/reconcile.py).
    PeriodicJob("campaign-reconcile", "jobs.reconcile.reconcile_campaigns", 30, DEFAULT),
    # Compliance requests left open by a worker that died or a queue Redis lost (jobs/privacy.py).
    PeriodicJob("privacy-resume", "jobs.privacy.resume_privacy_requests", 60, DEFAULT),
    # Quality, limits and throughput change; a token or a subscription can be lost.
    PeriodicJob("whatsapp-recheck", "jobs.whatsapp.recheck_connections", 6 * 3600, DEFAULT),
    # What Meta billed each account, yesterday and the days before (jobs/meta_billing.py).
    PeriodicJob("meta-billing", "jobs.meta_billing.read_all_meta_billing", 24 * 3600, DEFAULT),
    # A released number's token waits until our app has left its WABA: retry what Meta refused to answer.
    PeriodicJob("whatsapp-unsubscribe", "jobs.whatsapp.unsubscribe_released_numbers", 300, DEFAULT),
)
_BY_NAME = {job.name: job for job in PERIODIC_JOBS}
JOB_ID_PREFIX = "periodic-"


def schedule_next(job: PeriodicJob, after: float | None = None) -> bool:
    """Schedule the run of the slot after the time ``after`` (now by default); return False
    when it already was."""
    now = time.time()
    slot = math.floor((now if after is None else after) / job.interval_s) + 1
    scheduled = enqueue(
        job.queue,
        run_periodic,
        job.name,
        job_id=f"{JOB_ID_PREFIX}{job.name}-{slot}",
        unique=True,
        delay=timedelta(seconds=max(0.0, slot * job.interval_s - now)),
    )
    return scheduled is not None


def run_periodic(name: str) -> object:
    job = _BY_NAME[name]
    schedule_next(job)
    return import_attribute(job.func)()


class QuietPeriodicJobs(logging.Filter):
    """For RQ's worker log: its lines about a periodic job (started, OK, result discarded) go
    to DEBUG. Six lines every ten seconds would scroll everything else off the console; a run
    that finds work says so in its own log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        if not any(isinstance(arg, str) and arg.startswith(JOB_ID_PREFIX) for arg in args):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def schedule_periodic_jobs() -> None:
    for job in PERIODIC_JOBS:
        schedule_next(job)
