"""MonitorCampaignJob: settles campaigns by the rule, expires undelivered messages, reconciles
drifted counters, keeps exactly one pending run per campaign, and `flask monitor` runs it now."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.campaigns.monitor import monitor_campaign, next_interval_s
from core.counts.recount import recount
from core.db import session_scope
from core.models import Campaign, Click, CreditMovement, Message
from core.outcomes.credits import GRANT, RESERVE, move_credits
from core.redis import get_redis
from jobs.chains import ensure_monitor, monitor_job_id
from jobs.monitor import run_monitor
from jobs.queues import MONITOR, queue
from tests.meta_stand_in import whatsapp_shop

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

NOW = datetime.now(UTC)
TTL = timedelta(days=30)


def _campaign(make, shop, fates: list[str], *, finished: bool = True, launched_ago=timedelta(hours=2)):
    """A launched campaign whose messages stand at ``fates`` (delivered, read, failed, sent ...)."""
    launched = NOW - launched_ago
    campaign = make.campaign(
        shop,
        status="PENDING",
        launched_at=launched,
        dispatch_started_at=launched,
        dispatch_finished_at=launched + timedelta(minutes=1) if finished else None,
    )
    for n, fate in enumerate(fates):
        fields = {
            "wamid": f"w-{campaign.id}-{n}",
            "status": fate,
            "accepted_at": launched,
            "submitted_at": launched,
        }
        if fate in ("delivered", "read"):
            fields["delivered_at"] = launched + timedelta(seconds=30)
        if fate == "read":
            fields["read_at"] = launched + timedelta(minutes=5)
        if fate == "failed":
            fields.update(failed_at=launched, error_code="131026")
        make.message(campaign, make.customer(shop), **fields)
    make.recount(campaign)
    return campaign


def _status(make, campaign) -> Campaign:
    with Session(make.engine) as session:
        return session.get(Campaign, (campaign.shop_id, campaign.id))


@pytest.mark.parametrize(
    ("fates", "verdict"),
    [
        (["delivered", "read", "read"], "SENT"),
        (["delivered", "failed", "read"], "PARTIALLY_SENT"),
        (["failed", "failed"], "FAILED"),
    ],
)
def test_a_finished_campaign_settles_by_the_rule(make, run_jobs, fates, verdict):
    """Nothing failed: SENT; nothing delivered: FAILED; otherwise PARTIALLY_SENT; and the
    monitor stops once the campaign has settled."""
    campaign = _campaign(make, make.shop(), fates)
    ensure_monitor(campaign.shop_id, campaign.id)
    run_jobs()
    settled = _status(make, campaign)
    assert settled.status == verdict and settled.completed_at is not None
    assert not Job.exists(monitor_job_id(campaign.shop_id, campaign.id), connection=get_redis())


def test_an_open_campaign_keeps_exactly_one_pending_monitor(make, run_jobs):
    """While messages are still in flight the job runs again under the same id, scheduled after
    the interval; asking for it again changes nothing."""
    campaign = _campaign(make, make.shop(), ["delivered", "sent"], launched_ago=timedelta(minutes=30))
    for _ in range(3):
        ensure_monitor(campaign.shop_id, campaign.id)
    assert queue(MONITOR).count == 1
    run_jobs()
    assert _status(make, campaign).status == "PENDING"
    job_id = monitor_job_id(campaign.shop_id, campaign.id)
    registry = ScheduledJobRegistry(queue=queue(MONITOR))
    assert registry.get_job_ids() == [job_id] and queue(MONITOR).count == 0
    due = registry.get_scheduled_time(job_id)
    assert (
        timedelta(seconds=30) < due - datetime.now(UTC) <= timedelta(seconds=61)
    )  # 30 min old: every minute
    ensure_monitor(campaign.shop_id, campaign.id, delay=600)
    assert registry.get_job_ids() == [job_id] and registry.get_scheduled_time(job_id) == due
    ensure_monitor(campaign.shop_id, campaign.id)  # wanted now: the pending run moves earlier
    assert registry.get_scheduled_time(job_id) <= datetime.now(UTC)


def test_a_dead_monitor_job_is_replaced(make):
    """A monitor whose work horse was killed would hold the id for ever; it is replaced."""
    campaign = _campaign(make, make.shop(), ["sent"])
    ensure_monitor(campaign.shop_id, campaign.id)
    job = Job.fetch(monitor_job_id(campaign.shop_id, campaign.id), connection=get_redis())
    job.set_status(JobStatus.FAILED)
    queue(MONITOR).remove(job.id)
    ensure_monitor(campaign.shop_id, campaign.id)
    assert queue(MONITOR).job_ids == [job.id]
    assert Job.fetch(job.id, connection=get_redis()).get_status() == JobStatus.QUEUED


def test_the_interval_grows_with_the_campaigns_age(make):
    """Seconds apart while it sends, an hour apart once it is days old."""
    shop = make.shop()
    ages = [
        timedelta(minutes=1),
        timedelta(minutes=10),
        timedelta(minutes=30),
        timedelta(hours=5),
        timedelta(days=3),
    ]
    intervals = [next_interval_s(_campaign(make, shop, [], launched_ago=age), NOW) for age in ages]
    assert intervals == sorted(intervals) and intervals[0] <= 5 and intervals[-1] == 3600


def test_undelivered_messages_expire_after_the_ttl_and_count_as_failed(make):
    """A message Meta took 31 days ago with no delivery is expired (MESSAGE_EXPIRED, failed);
    a delivered one and a recent one are untouched; the campaign can then settle."""
    shop = make.shop()
    campaign = _campaign(make, shop, ["delivered", "sent", "accepted"], launched_ago=timedelta(days=31))
    with Session(make.engine) as session, session.begin():
        recent = session.scalars(
            update(Message)
            .where(Message.campaign_id == campaign.id, Message.status == "accepted")
            .values(accepted_at=NOW - timedelta(days=1))
            .returning(Message.id)
        ).one()
    with session_scope() as session:
        result = monitor_campaign(session, shop.id, campaign.id, ttl=TTL)
    assert result.expired == 1 and result.status_after == "PENDING"
    with Session(make.engine) as session:
        rows = {m.status: m for m in session.query(Message).filter_by(campaign_id=campaign.id)}
    assert (rows["expired"].error_code, rows["expired"].error_category) == ("MESSAGE_EXPIRED", "delivery")
    assert rows["accepted"].id == recent
    assert _status(make, campaign).failed_count == 1
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Message).where(Message.id == recent).values(accepted_at=NOW - timedelta(days=40))
        )
    with session_scope() as session:
        assert monitor_campaign(session, shop.id, campaign.id, ttl=TTL).status_after == "PARTIALLY_SENT"


def test_concurrent_runs_expire_and_count_each_message_once(make):
    """Four runs at once over 200 expirable messages: each expires once, the counters stay exact."""
    shop = make.shop()
    campaign = _campaign(make, shop, ["sent"] * 200, launched_ago=timedelta(days=40))
    barrier = threading.Barrier(4)
    results = []

    def run():
        barrier.wait()
        with session_scope() as session:
            results.append(monitor_campaign(session, shop.id, campaign.id, ttl=TTL).expired)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 200
    assert _status(make, campaign).status == "FAILED"
    with Session(make.engine) as session, session.begin():
        assert recount(session, shop.id, [campaign.id]) == []


def test_drifted_counters_are_fixed_and_logged(make, caplog):
    """The reconciliation path sets the counters back to the GROUP BY and logs the drift."""
    campaign = _campaign(make, make.shop(), ["delivered", "sent"])
    with Session(make.engine) as session, session.begin():
        session.execute(update(Campaign).where(Campaign.id == campaign.id).values(delivered_count=7))
    with caplog.at_level(logging.WARNING, logger="jobs.monitor"):
        result = run_monitor(campaign.shop_id, campaign.id, reconcile=True)
    assert result.drifts and _status(make, campaign).delivered_count == 1
    assert "drifted" in caplog.text and "'delivered_count': 7" in caplog.text


def test_the_counter_path_does_not_recount(make):
    """Without a reason to settle, a run reads the counters only: drift waits for the
    reconciliation path (which the job takes every few minutes)."""
    campaign = _campaign(make, make.shop(), ["delivered", "sent"])
    with Session(make.engine) as session, session.begin():
        session.execute(update(Campaign).where(Campaign.id == campaign.id).values(sent_count=7))
    with session_scope() as session:
        result = monitor_campaign(session, campaign.shop_id, campaign.id, ttl=TTL)
    assert not result.reconciled and _status(make, campaign).sent_count == 7


def test_flask_monitor_runs_every_open_campaign_now(make, runner, meta, run_jobs):
    """`flask --app web monitor` settles what can settle, leaves the rest watched, and launches a
    scheduled campaign whose time has passed."""
    shop = whatsapp_shop(make)
    done = _campaign(make, shop, ["read", "failed"])
    open_ = _campaign(make, shop, ["sent"])
    make.customer(shop, phone="+34612999999", phone_e164="+34612999999")
    due = make.campaign(
        shop, status="SCHEDULED", template_name="weekly_offer", scheduled_at=NOW - timedelta(minutes=5)
    )
    settled_before = make.campaign(shop, status="SENT")
    result = runner.invoke(args=["monitor"])
    assert result.exit_code == 0, result.output
    assert f"campaign {done.id} '{done.name}': PENDING -> PARTIALLY_SENT" in result.output
    assert f"campaign {due.id} '{due.name}': SCHEDULED (due: launching)" in result.output
    assert (
        f"campaign {settled_before.id} " not in result.output and "monitored 3 campaign(s)" in result.output
    )
    assert _status(make, open_).status == "PENDING"
    assert ScheduledJobRegistry(queue=queue(MONITOR)).get_job_ids() == [monitor_job_id(shop.id, open_.id)]
    run_jobs()
    assert _status(make, due).status == "PENDING"
    assert [m["to"] for m in meta.truth()["messages"].values()] == ["+34612999999"]


def test_reconciliation_counts_a_message_clicked_twice_once(make):
    """Clicks are counted per message: two clicks on one message are one clicked message."""
    campaign = _campaign(make, make.shop(), ["read", "read"])
    with Session(make.engine) as session, session.begin():
        first = session.query(Message).filter_by(campaign_id=campaign.id).order_by(Message.id).first()
        for n in range(2):
            session.add(
                Click(
                    shop_id=first.shop_id,
                    message_id=first.id,
                    kind="url_button",
                    clicked_at=NOW,
                    source_id=f"k{n}",
                )
            )
    result = run_monitor(campaign.shop_id, campaign.id, reconcile=True)
    assert [d["new"]["clicked_count"] for d in result.drifts] == [1]
    assert _status(make, campaign).clicked_count == 1


def _run_monitor(campaign) -> None:
    with session_scope() as session:
        monitor_campaign(session, campaign.shop_id, campaign.id, ttl=TTL)


def _campaign_ledger(make, campaign) -> int:
    with Session(make.engine) as session:
        return session.scalar(
            select(func.coalesce(func.sum(CreditMovement.amount), 0)).where(
                CreditMovement.shop_id == campaign.shop_id, CreditMovement.campaign_id == campaign.id
            )
        )


def test_a_quiet_campaign_is_settled_again_only_when_what_it_counts_moves(make):
    """The settlement's pass over every message runs when a counter it reads has moved (or its
    memo has lapsed), not on every run of a campaign that waits for its last statuses."""
    shop = make.shop(credits=0)
    campaign = _campaign(make, shop, ["delivered", "failed", "sent"], finished=False)
    with Session(make.engine) as session, session.begin():
        move_credits(session, shop.id, GRANT, 10)
        move_credits(session, shop.id, RESERVE, -3, campaign.id)  # as dispatch reserves
    _run_monitor(campaign)
    assert _campaign_ledger(make, campaign) == -2  # the billed and the in-flight keep theirs

    # Changed behind the counters' back: a quiet run does not look at the messages.
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Message)
            .where(Message.shop_id == shop.id, Message.campaign_id == campaign.id, Message.status == "sent")
            .values(status="failed", failed_at=NOW, error_code="131026")
        )
    _run_monitor(campaign)
    assert _campaign_ledger(make, campaign) == -2

    make.recount(campaign)  # the failed counter moves: the next run settles
    _run_monitor(campaign)
    assert _campaign_ledger(make, campaign) == -1

    # The memo lapses (RESETTLE_AFTER_S): settled afresh whatever the counters say.
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Message)
            .where(
                Message.shop_id == shop.id, Message.campaign_id == campaign.id, Message.status == "delivered"
            )
            .values(pricing_billable=False, pricing_type="free_entry_point")
        )
    _run_monitor(campaign)
    assert _campaign_ledger(make, campaign) == -1
    get_redis().delete(f"credits:settled:{shop.id}:{campaign.id}")
    _run_monitor(campaign)
    assert _campaign_ledger(make, campaign) == 0


def _experiment(make, campaign, count: int) -> None:
    """Turn ``count`` of the campaign's 131026 failures into Meta's experiment (130472)."""
    with Session(make.engine) as session, session.begin():
        ids = session.scalars(
            select(Message.id)
            .where(Message.campaign_id == campaign.id, Message.status == "failed")
            .limit(count)
        ).all()
        session.execute(update(Message).where(Message.id.in_(ids)).values(error_code="130472"))
    make.recount(campaign)


def test_metas_own_experiment_does_not_make_a_campaign_partly_sent(make):
    """A campaign whose only failures are customers Meta kept back in its experiment settles
    as SENT; one with a real failure beside them is still PARTIALLY_SENT."""
    shop = make.shop()
    only_experiment = _campaign(make, shop, ["delivered", "read", "failed", "failed"])
    _experiment(make, only_experiment, 2)
    with_failure = _campaign(make, shop, ["delivered", "failed", "failed"])
    _experiment(make, with_failure, 1)
    with session_scope() as session:
        assert monitor_campaign(session, shop.id, only_experiment.id, ttl=TTL).status_after == "SENT"
        assert monitor_campaign(session, shop.id, with_failure.id, ttl=TTL).status_after == "PARTIALLY_SENT"
    assert _status(make, only_experiment).failed_count == 2  # still reported, by its own code
