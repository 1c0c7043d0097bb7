"""The privacy job: one per shop (id ``privacy-<shop>``), carrying out the shop's compliance
requests (core/shopify/privacy.py) a bounded step at a time, each step its own transaction.

The Shopify drain queues it after recording a request; a periodic sweep queues it again for any
shop with a request left open (a worker killed mid-way, Redis lost its queue), and the request's
own row says where to resume. After TIME_BUDGET_S a run hands over to its own next run, so other
jobs get their turn while a large shop is erased.
"""

from __future__ import annotations

import logging
import time

from core.db import session_scope
from core.meta_webhooks.routing import shops_by_phone_number
from core.shopify import privacy
from core.whatsapp.release import unsubscribe_released
from jobs.chains import ensure_job, run_again_in
from jobs.queues import DEFAULT

log = logging.getLogger(__name__)

RUN_PRIVACY_REQUESTS = "jobs.privacy.run_privacy_requests"
TIME_BUDGET_S = 60


def privacy_job_id(shop_id: int) -> str:
    return f"privacy-{shop_id}"


def request_privacy_work(shop_id: int) -> None:
    """Make sure the shop's privacy job is pending or running (a dead one is replaced)."""
    ensure_job(DEFAULT, RUN_PRIVACY_REQUESTS, shop_id, job_id=privacy_job_id(shop_id))


def run_privacy_requests(shop_id: int) -> dict:
    """Carry out the shop's open requests, step after step, until none is left or the time
    budget is spent (at least one step per run)."""
    started, steps = time.monotonic(), 0
    _leave_whatsapp_account(shop_id)
    meta_numbers = _routed_numbers(shop_id)
    while True:
        with session_scope() as session:
            progressed = privacy.next_step(session, shop_id, meta_numbers)
        if not progressed:
            break
        steps += 1
        if time.monotonic() - started >= TIME_BUDGET_S:
            if not run_again_in(0):  # outside a worker the periodic sweep picks it up again
                log.info("privacy requests of shop %s: stopped after %d steps", shop_id, steps)
            return {"shop_id": shop_id, "steps": steps, "done": False}
    if steps:
        log.info("privacy requests of shop %s: done in %d steps", shop_id, steps)
    return {"shop_id": shop_id, "steps": steps, "done": True}


def _leave_whatsapp_account(shop_id: int) -> None:
    """A shop erasure deletes the connection row, and the token an uninstall kept to unsubscribe
    our app from the shop's WABA goes with it: unsubscribe first (no transaction open). The
    erasure goes on whatever Meta answers: it is owed to the merchant, the subscription is not."""
    outcome = unsubscribe_released(shop_id).outcome
    if outcome in ("refused", "unreachable"):
        log.warning("shop %s: leaving its WhatsApp account before erasing it: %s", shop_id, outcome)


def _routed_numbers(shop_id: int) -> list[str]:
    """The WhatsApp numbers whose Meta webhooks route to the shop now (as the Meta drain routes
    them): only those bodies are the shop's."""
    with session_scope() as session:
        held = privacy.meta_numbers_held(session, shop_id)
        routed = shops_by_phone_number(session, held)
    return sorted(number for number, owner in routed.items() if owner == shop_id)


def resume_privacy_requests() -> dict:
    """Periodic: queue the privacy job of every shop with a request left open."""
    with session_scope() as session:
        shops = privacy.shops_with_open_requests(session)
    for shop_id in shops:
        request_privacy_work(shop_id)
    return {"shops": len(shops)}
