"""WhatsApp connection jobs: the periodic check of every connected number with Meta, one job
per shop (each is several Graph calls; thousands of shops must not share one job's time limit)."""

from __future__ import annotations

from core.settings import get_settings
from core.whatsapp.recheck import connected_shop_ids, recheck
from jobs.queues import DEFAULT, enqueue

RECHECK_JOB_PREFIX = "whatsapp-recheck-"


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
