"""Launching a scheduled campaign when its time comes (and starting a launched one's dispatch)."""

from __future__ import annotations

import logging
from datetime import datetime

from core.db import session_scope
from core.launch import launch_when_due
from core.models import Campaign, Shop
from jobs.chains import ensure_job
from jobs.dispatch import start_dispatch
from jobs.queues import DEFAULT

log = logging.getLogger(__name__)


def launch_job_id(shop_id: int, campaign_id: int, at: datetime) -> str:
    # The time is part of the id: a rescheduled campaign gets a new job, and the old one,
    # finding another time on the campaign, does nothing.
    return f"launch-{shop_id}-{campaign_id}-{int(at.timestamp())}"


def schedule_launch(shop_id: int, campaign_id: int, at: datetime) -> None:
    delay = max((at - datetime.now(at.tzinfo)).total_seconds(), 0)
    ensure_job(
        DEFAULT,
        launch_scheduled_campaign,
        shop_id,
        campaign_id,
        at.isoformat(),
        job_id=launch_job_id(shop_id, campaign_id, at),
        delay=delay,
    )


def launch_scheduled_campaign(shop_id: int, campaign_id: int, expected_at: str | None = None) -> bool:
    """Run the launch checks again and launch; True when dispatch started."""
    expected = datetime.fromisoformat(expected_at) if expected_at else None
    with session_scope() as session:
        campaign = session.get(Campaign, (shop_id, campaign_id))
        shop = session.get(Shop, shop_id)
        launched = campaign is not None and launch_when_due(session, shop, campaign, expected)
    if launched:
        start_dispatch(shop_id, campaign_id)
        log.info("scheduled campaign %s launched", campaign_id)
    return launched


def enqueue_launch_now(shop_id: int, campaign_id: int) -> None:
    """A scheduled campaign found due by the monitor (its own job may have been lost)."""
    ensure_job(
        DEFAULT,
        launch_scheduled_campaign,
        shop_id,
        campaign_id,
        job_id=f"launch-{shop_id}-{campaign_id}-due",
    )
