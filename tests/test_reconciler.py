"""Launch and schedule are durable with their jobs: a periodic reconciler gives every open
campaign the dispatch lanes and monitor it needs, so nothing depends on one enqueue succeeding
or on Redis keeping its keys."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.models import Campaign
from core.redis import get_redis
from jobs.chains import monitor_job_id
from jobs.periodic import PERIODIC_JOBS
from jobs.reconcile import reconcile_campaigns
from tests.meta_stand_in import whatsapp_shop
from tests.test_campaign_lifecycle_api import _audience, _create
from tests.tokens import bearer

# _audience: four recipients, of whom three have a number Meta can take (one lacks its calling code).
SENT = 3


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


@pytest.fixture
def redis_down_client(service_urls):
    """The app with REDIS_URL naming a port where no Redis listens (PostgreSQL is fine); the
    rest of the test (workers, the reconciler) runs on the real Redis of the environment."""
    from web import create_app

    down = f"redis://127.0.0.1:{_closed_port()}/0"
    return create_app({"APP_ENV": "test", "TESTING": True, "REDIS_URL": down}).test_client()


def _status(make, shop_id: int, campaign_id: int) -> Campaign:
    with Session(make.engine) as session:
        return session.get(Campaign, (shop_id, campaign_id))


def _sent_to(meta) -> list[str]:
    return [fate["to"] for fate in meta.truth()["messages"].values()]


def test_a_launch_whose_enqueue_failed_still_answers_202_and_is_dispatched(
    client, redis_down_client, make, meta, run_jobs
):
    """Redis down at launch: 202, the campaign is PENDING; the reconciler then starts its
    lanes and monitor, and every recipient gets exactly one message."""
    shop = whatsapp_shop(make)
    _audience(make, shop)
    campaign_id = _create(client).json["id"]
    response = redis_down_client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer())
    assert response.status_code == 202, response.get_json()
    assert _status(make, shop.id, campaign_id).status == "PENDING"
    run_jobs()
    assert _sent_to(meta) == []  # nothing was queued
    assert reconcile_campaigns()["lanes"] >= 1
    run_jobs()
    sent = _sent_to(meta)
    assert len(sent) == SENT and len(set(sent)) == SENT


def test_a_redis_flush_loses_nothing(client, make, meta, run_jobs):
    """Launched, then Redis is flushed (queues and monitor chain gone): the reconciler brings
    back the lanes and the monitor, and the campaign is sent once to everyone."""
    shop = whatsapp_shop(make)
    _audience(make, shop)
    campaign_id = _create(client).json["id"]
    assert client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer()).status_code == 202
    get_redis().flushdb()
    result = reconcile_campaigns()
    assert result["lanes"] >= 1 and result["monitors"] == 1
    assert get_redis().exists(f"rq:job:{monitor_job_id(shop.id, campaign_id)}")
    run_jobs()
    sent = _sent_to(meta)
    assert len(sent) == SENT and len(set(sent)) == SENT
    assert _status(make, shop.id, campaign_id).dispatch_finished_at is not None


def test_a_scheduled_campaign_whose_job_was_lost_launches_when_due(client, make, meta, run_jobs):
    """A SCHEDULED campaign whose launch job Redis lost is launched by the reconciler once due."""
    shop = whatsapp_shop(make)
    _audience(make, shop)
    campaign_id = _create(client).json["id"]
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    schedule = client.post(
        f"/api/campaigns/{campaign_id}/schedule", json={"scheduled_at": at}, headers=bearer()
    )
    assert schedule.status_code == 200
    get_redis().flushdb()
    assert reconcile_campaigns()["launches"] == 0  # not due yet
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(scheduled_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert reconcile_campaigns()["launches"] == 1
    run_jobs()
    reconcile_campaigns()
    run_jobs()
    assert _status(make, shop.id, campaign_id).status in ("PENDING", "SENT", "PARTIALLY_SENT", "FAILED")
    assert len(_sent_to(meta)) == SENT


def test_a_schedule_whose_enqueue_failed_still_answers_200(client, redis_down_client, make, meta):
    """Redis down when scheduling: the campaign is SCHEDULED all the same (the reconciler
    launches it when due)."""
    shop = whatsapp_shop(make)
    _audience(make, shop)
    campaign_id = _create(client).json["id"]
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    path = f"/api/campaigns/{campaign_id}/schedule"
    assert redis_down_client.post(path, json={"scheduled_at": at}, headers=bearer()).status_code == 200
    assert _status(make, shop.id, campaign_id).status == "SCHEDULED"


def test_the_reconciler_runs_on_the_workers_scheduler():
    """The reconciler is one of the periodic jobs every worker schedules."""
    assert "jobs.reconcile.reconcile_campaigns" in {job.func for job in PERIODIC_JOBS}
