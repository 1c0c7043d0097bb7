"""The rest of a test-then-send campaign: once its test has run its hours, pick the winning
variant and send it to the rest of the audience (core/experiments/test_then_send.py).

The campaign's monitor queues this job when the time comes (jobs/monitor.py). It may run twice
(a retry, the monitor queueing it again): the campaign's row is locked, and the choice is
recorded (``test_then_send.rest_at``) in the transaction that materialises the rest, so the
second run finds it done and does nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from core.db import session_scope
from core.dispatch.materialise import materialise_rest
from core.experiments.test_then_send import choose_winner, rest_due_at
from core.models import Campaign, Shop
from core.reports.variants import variants_report
from jobs.chains import start_dispatch

log = logging.getLogger(__name__)


def send_rest_job(shop_id: int, campaign_id: int, now: str | None = None) -> int | None:
    """Send the winner to the rest; return how many messages it queued, None when there was
    nothing to do (not due yet, already done, or no longer PENDING)."""
    at = datetime.fromisoformat(now) if now else datetime.now(UTC)
    with session_scope() as session:
        campaign = session.get(Campaign, (shop_id, campaign_id), with_for_update=True)
        due = campaign and rest_due_at(campaign.test_then_send, campaign.dispatch_started_at)
        if campaign is None or campaign.status != "PENDING" or due is None or due > at:
            return None
        shop = session.get(Shop, shop_id)
        variants, experiment = variants_report(session, shop, campaign, at_horizon=True)
        winner, reason = choose_winner(experiment, {v["id"]: v["value"] for v in variants})
        created = materialise_rest(session, shop_id, campaign_id, winner)
        if created is None:
            return None
        campaign.test_then_send = {
            **campaign.test_then_send,
            "winner": winner,
            "reason": reason,
            "rest_at": at.isoformat(),
            "rest_messages": created,
        }
    start_dispatch(shop_id, campaign_id)
    log.info("campaign %s: variant %s sent to the rest (%s messages)", campaign_id, winner, created)
    return created
