"""WhatsApp connection jobs: the periodic check of every connected number with Meta, one job
per shop (each is several Graph calls; thousands of shops must not share one job's time limit),
and what follows a released number (a disconnect, an uninstall): the shop's campaigns stop, our
app leaves the WABA's webhooks, the token is forgotten."""

from __future__ import annotations

import logging

from core.dispatch.stop import count_outcomes, stop_shop_campaigns
from core.meta_webhooks.halt import HaltReason
from core.settings import get_settings
from core.whatsapp.recheck import connected_shop_ids, recheck
from core.whatsapp.release import released_shop_ids, unsubscribe_released
from jobs.chains import ensure_monitor
from jobs.queues import DEFAULT, enqueue

log = logging.getLogger(__name__)

RECHECK_JOB_PREFIX = "whatsapp-recheck-"
UNSUBSCRIBE_JOB_PREFIX = "whatsapp-unsubscribe-"


def recheck_connections() -> dict:
    """Periodic: queue a check of every connected shop's number (at most one pending per shop)."""
    shop_ids = connected_shop_ids()
    queued = sum(
        enqueue(DEFAULT, recheck_connection, shop_id, job_id=f"{RECHECK_JOB_PREFIX}{shop_id}", unique=True)
        is not None
        for shop_id in shop_ids
    )
    return {"shops": len(shop_ids), "queued": queued}


def recheck_connection(shop_id: int) -> str:
    """Check one shop's number with Meta again and keep what Meta says."""
    return recheck(shop_id, get_settings().meta_app_id)


def release_whatsapp(shop_id: int, code: str) -> dict:
    """After the shop's number was released (core/whatsapp/release.py) because WhatsApp was
    disconnected or the app uninstalled (``code``): halt its pending campaigns (an uninstall
    also cancels the scheduled ones), then unsubscribe our app from the WABA and forget the
    token."""
    stopped = stop_shop_campaigns(shop_id, HaltReason(code))
    for campaign in stopped:
        if campaign.outcome == "halted":
            ensure_monitor(shop_id, campaign.campaign_id, delay=1)  # it settles what Meta has
    return {"campaigns": count_outcomes(stopped), "unsubscribe": unsubscribe_from_account(shop_id)}


def unsubscribe_from_account(shop_id: int) -> str:
    """Unsubscribe our app from the WABA of the shop's released number, then forget the token."""
    released = unsubscribe_released(shop_id)
    for other in released.recheck:  # connected the same WABA meanwhile: subscribe it again
        enqueue(DEFAULT, recheck_connection, other, job_id=f"{RECHECK_JOB_PREFIX}{other}", unique=True)
    if released.outcome != "nothing":
        log.info("shop %s: WABA unsubscription %s", shop_id, released.outcome)
    return released.outcome


def unsubscribe_released_numbers() -> dict:
    """Periodic: retry the unsubscriptions still waiting (Meta was unreachable, or the job that
    follows a release was never queued)."""
    shop_ids = released_shop_ids()
    queued = sum(
        enqueue(
            DEFAULT,
            unsubscribe_from_account,
            shop_id,
            job_id=f"{UNSUBSCRIBE_JOB_PREFIX}{shop_id}",
            unique=True,
        )
        is not None
        for shop_id in shop_ids
    )
    return {"shops": len(shop_ids), "queued": queued}
