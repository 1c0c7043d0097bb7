"""MonitorCampaignJob: watches a campaign during and after dispatch until it settles.

One job per campaign (id ``monitor-<shop>-<campaign>``), scheduled with RQ's ``enqueue_in``
and repeated by the worker under the same id (jobs/chains.py), at an interval that grows as the
campaign ages. The work itself is core/campaigns/monitor.py. Besides, each run:

- queues the launch of a SCHEDULED campaign whose time has come (should its own job be lost);
- queues the rest of a test then send whose test has run its hours (jobs/test_then_send.py),
  running again at that time if its interval would pass it;
- restarts dispatch lanes that died (a killed work horse) while messages still wait;
- takes the reconciliation path (a full GROUP BY) at most every few minutes, and whenever the
  counters say the campaign could settle.

A run that fails is logged and retried at the next interval: the watch never stops on an error.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from core.campaigns.monitor import MonitorResult, monitor_campaign
from core.db import session_scope
from core.redis import get_redis
from core.settings import get_settings
from jobs.chains import enqueue_launch_now, enqueue_rest_now, keep_dispatch_alive, run_again_in

log = logging.getLogger(__name__)

RECONCILE_EVERY_S = 300
RETRY_AFTER_ERROR_S = 60


def monitor_campaign_job(shop_id: int, campaign_id: int) -> dict:
    """Run the campaign's monitor as its RQ job; return what it found, for the job's log."""
    try:
        result = run_monitor(shop_id, campaign_id)
    except Exception:
        log.exception("monitor of campaign %s failed; trying again in %s s", campaign_id, RETRY_AFTER_ERROR_S)
        run_again_in(RETRY_AFTER_ERROR_S)
        return {"campaign_id": campaign_id, "error": True}
    if result.next_in_s is not None:
        run_again_in(result.next_in_s)
    return {"campaign_id": campaign_id, "status": result.status_after, "expired": result.expired}


def run_monitor(shop_id: int, campaign_id: int, *, reconcile: bool | None = None) -> MonitorResult:
    """One run, followed by what only the job layer can do (launch, restart dispatch)."""
    if reconcile is None:
        reconcile = _reconcile_due(campaign_id)
    with session_scope() as session:
        ttl = timedelta(days=get_settings().message_ttl_days)
        result = monitor_campaign(session, shop_id, campaign_id, ttl=ttl, reconcile=reconcile)
    for drift in result.drifts:
        log.warning(
            "campaign %s counters drifted: was %s, now %s", drift["campaign_id"], drift["old"], drift["new"]
        )
    if result.due_for_launch:
        enqueue_launch_now(shop_id, campaign_id)
    if result.due_for_rest:
        enqueue_rest_now(shop_id, campaign_id)
    elif result.status_after == "PENDING":
        keep_dispatch_alive(shop_id, campaign_id)
    if result.settled:
        log.info("campaign %s settled: %s", campaign_id, result.status_after)
    return result


def _reconcile_due(campaign_id: int) -> bool:
    """True at most once per RECONCILE_EVERY_S per campaign, across all workers."""
    return bool(get_redis().set(f"monitor:reconciled:{campaign_id}", 1, nx=True, ex=RECONCILE_EVERY_S))
