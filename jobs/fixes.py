"""The "Fix all" job: write a campaign's queued phone fixes to Shopify (core/campaigns/fix_loop.py)."""

from __future__ import annotations

import logging

from core.campaigns.fix_loop import apply_fixes
from jobs.queues import DEFAULT, enqueue

log = logging.getLogger(__name__)


def request_phone_fixes(shop_id: int, campaign_id: int) -> bool:
    """Queue the job unless one for this campaign is queued or running; answer whether queued.
    A running job picks up only the rows pending when it started: a second request after it
    finished runs the rest."""
    job_id = f"phone-fixes-{shop_id}-{campaign_id}"
    return enqueue(DEFAULT, apply_phone_fixes, shop_id, campaign_id, job_id=job_id, unique=True) is not None


def apply_phone_fixes(shop_id: int, campaign_id: int) -> dict[str, int]:
    done = apply_fixes(shop_id, campaign_id)
    log.info("phone fixes of campaign %s (shop %s): %s", campaign_id, shop_id, done)
    return done
