"""What Meta billed, read daily: one job per connected shop (a Graph call each; thousands of
shops must not share one job's time limit), each reading yesterday and the days before it again
(Meta revises recent days) and checking the drift from our own cost (core/reconcile/read.py)."""

from __future__ import annotations

from datetime import date

from core.reconcile.read import read_meta_billing, recent_days
from core.whatsapp.recheck import connected_shop_ids
from jobs.queues import DEFAULT, enqueue

JOB_PREFIX = "meta-billing-"


def read_all_meta_billing() -> dict:
    """Periodic: queue a billing read of every connected shop (at most one pending per shop)."""
    shop_ids = connected_shop_ids()
    queued = sum(
        enqueue(DEFAULT, read_shop_meta_billing, shop_id, job_id=f"{JOB_PREFIX}{shop_id}", unique=True)
        is not None
        for shop_id in shop_ids
    )
    return {"shops": len(shop_ids), "queued": queued}


def read_shop_meta_billing(shop_id: int, first_day: date | None = None, last_day: date | None = None) -> str:
    """Read one shop's recent days (or the days given) from Meta, keep them, check the drift."""
    recent_first, recent_last = recent_days()
    return read_meta_billing(shop_id, first_day or recent_first, last_day or recent_last).outcome
