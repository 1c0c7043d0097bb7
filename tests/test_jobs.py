"""RQ jobs run by a real worker: in-process (burst helper) and as `python -m jobs.worker --burst`."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.models import Campaign
from jobs.chains import MONITOR_CAMPAIGN
from jobs.periodic import JOB_ID_PREFIX, PERIODIC_JOBS, schedule_next
from jobs.queues import MONITOR, WEBHOOKS, enqueue, queue

SWEEP_META_INBOX = "jobs.webhooks.sweep_meta_inbox"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _drifted_campaign(make):
    shop = make.shop()
    now = datetime.now(UTC)
    campaign = make.campaign(
        shop, "Drifted", status="PENDING", launched_at=now, dispatch_started_at=now, dispatch_finished_at=now
    )
    for n in range(3):
        make.message(campaign, make.customer(shop), wamid=f"w{n}", status="sent")
    with Session(make.engine) as session, session.begin():
        session.execute(update(Campaign).values(sent_count=99, messages_count=1))
    return campaign


def _counters(make, campaign):
    with Session(make.engine) as session:
        c = session.get(Campaign, (campaign.shop_id, campaign.id))
        return c.messages_count, c.sent_count


def test_burst_worker_runs_queued_jobs(make, run_jobs):
    """A queued monitor job, run by a real worker, sets drifted counters right."""
    campaign = _drifted_campaign(make)
    enqueue(MONITOR, MONITOR_CAMPAIGN, campaign.shop_id, campaign.id)
    run_jobs()
    assert _counters(make, campaign) == (3, 3)


def test_unique_jobs_are_enqueued_once_while_pending(run_jobs):
    """At most one pending job per id: the second enqueue is a no-op until the first has run."""
    job_id = "sweep-once"
    first = enqueue(WEBHOOKS, SWEEP_META_INBOX, job_id=job_id, unique=True)
    second = enqueue(WEBHOOKS, SWEEP_META_INBOX, job_id=job_id, unique=True)
    assert first is not None and second is None
    assert queue(WEBHOOKS).count == 1
    run_jobs()
    again = enqueue(WEBHOOKS, SWEEP_META_INBOX, job_id=job_id, unique=True)
    assert again is not None  # the id freed up once the job finished


def test_worker_cli_burst_runs_due_scheduled_jobs_and_exits(make):
    """`python -m jobs.worker --burst` runs what is queued and what falls due, then exits; with
    --quiet-jobs (as `make run` starts it) RQ's routine line for each job stays off the console."""
    campaign = _drifted_campaign(make)
    job = enqueue(MONITOR, MONITOR_CAMPAIGN, campaign.shop_id, campaign.id, delay=timedelta(seconds=0))
    result = subprocess.run(
        [sys.executable, "-m", "jobs.worker", "--burst", "--quiet-jobs"],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert _counters(make, campaign) == (3, 3)
    assert job.id not in result.stderr and "Job OK" not in result.stderr, result.stderr


def test_a_periodic_run_that_finds_nothing_logs_nothing_at_info(run_jobs, caplog):
    """RQ's lines about a routine periodic run are DEBUG, so the console keeps the URL in view;
    an ordinary job's lines stay INFO."""
    caplog.set_level(logging.INFO)
    sweep = next(job for job in PERIODIC_JOBS if job.name == "meta-inbox-sweep")
    schedule_next(sweep, after=0)  # a slot long past: due now
    enqueue(WEBHOOKS, SWEEP_META_INBOX, job_id="sweep-by-hand")
    run_jobs()
    worker_lines = [r.getMessage() for r in caplog.records if r.name == "rq.worker"]
    assert any("sweep-by-hand" in line for line in worker_lines)
    assert [line for line in worker_lines if JOB_ID_PREFIX in line] == []
