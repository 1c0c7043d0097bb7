"""The campaign reconciler, a periodic job on every worker's scheduler: each open campaign gets
the jobs it needs, whatever happened to the ones queued for it.

A launch commits PENDING and then enqueues dispatch; a schedule commits SCHEDULED and then
enqueues the launch. Either enqueue can fail (Redis down: the merchant still got 202), and a
Redis flush or restart loses every queued job and monitor chain. The database is the truth, so
this job reads it: a PENDING campaign with messages still to send gets its lanes (RQ's unique
ids make that a no-op while they are pending or running), one whose monitor is not pending
gets it back, and a SCHEDULED campaign whose time has come is launched.

A campaign of a shop that uninstalled the app gets none of that: it is stopped instead (pending
halts, scheduled is cancelled; core/dispatch/stop.py), in case the uninstall's own stopping job
was lost. Its monitor still runs, to settle the messages already with Meta.
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select

from core.db import session_scope
from core.dispatch.stop import stop_campaign
from core.meta_webhooks.halt import APP_UNINSTALLED
from core.models import Campaign, Shop
from core.rules.campaign_states import CampaignStatus
from jobs.chains import enqueue_launch_now, ensure_lanes, ensure_monitor, job_pending, monitor_job_id

log = logging.getLogger(__name__)

# A lost monitor is restarted a little later, not at once: the campaign has just been seen.
MONITOR_RESTART_S = 5


def reconcile_campaigns(now: datetime | None = None) -> dict:
    """Restart what every open campaign lacks; answer how many lanes, monitors and launches."""
    now = now or datetime.now(UTC)
    with session_scope() as session:
        open_campaigns = session.execute(
            select(
                Campaign.shop_id,
                Campaign.id,
                Campaign.status,
                Campaign.scheduled_at,
                Campaign.dispatch_finished_at,
                Campaign.halted_reason,
                Shop.uninstalled_at,
            )
            .join(Shop, Shop.id == Campaign.shop_id)
            .where(Campaign.status.in_([CampaignStatus.PENDING, CampaignStatus.SCHEDULED]))
        ).all()
    done: Counter = Counter(lanes=0, monitors=0, launches=0, stopped=0)
    for campaign in open_campaigns:
        done.update(_reconcile(campaign, now))
    if any(done.values()):
        log.info("reconciled %d open campaigns: %s", len(open_campaigns), dict(done))
    return dict(done)


def _reconcile(campaign, now: datetime) -> Counter:
    shop_id, campaign_id = campaign.shop_id, campaign.id
    if campaign.uninstalled_at is not None:
        return _stop_uninstalled(campaign)
    if campaign.status == CampaignStatus.SCHEDULED:
        if campaign.scheduled_at is not None and campaign.scheduled_at <= now:
            enqueue_launch_now(shop_id, campaign_id)
            return Counter(launches=1)
        return Counter()
    restarted = Counter()
    if not job_pending(monitor_job_id(shop_id, campaign_id)):
        ensure_monitor(shop_id, campaign_id, delay=MONITOR_RESTART_S)
        restarted["monitors"] += 1
    if campaign.dispatch_finished_at is None and campaign.halted_reason is None:
        restarted["lanes"] += ensure_lanes(shop_id, campaign_id)
    return restarted


def _stop_uninstalled(campaign) -> Counter:
    """Nothing is sent for a shop that uninstalled the app: stop the campaign, and let only its
    monitor run (it settles what Meta already has)."""
    with session_scope() as session:
        stopped = stop_campaign(
            session, campaign.shop_id, campaign.id, APP_UNINSTALLED, cancel_scheduled=True
        )
    if campaign.status == CampaignStatus.PENDING and not job_pending(
        monitor_job_id(campaign.shop_id, campaign.id)
    ):
        ensure_monitor(campaign.shop_id, campaign.id, delay=MONITOR_RESTART_S)
    return Counter(stopped=stopped.outcome != "left")
