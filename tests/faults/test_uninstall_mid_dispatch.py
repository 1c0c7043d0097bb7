"""Nothing is sent after uninstall: a campaign sends through real workers, the signed
``app/uninstalled`` webhook arrives over HTTP mid-dispatch, and from the moment the uninstall is
applied the Meta stand-in receives only sends that were already in flight.

The bound: a send that reaches Meta after the uninstall was applied is one a lane had already
claimed before it (claimed messages are handed over for sending in the claim's transaction, which
holds the shop's row, so no claim can commit after the uninstall without seeing it). A lane holds
at most a batch and a half of claimed messages (jobs/dispatch.py), so at most
``LANES x 1.5 x batch`` sends, and the lane notices within ``STOP_CHECK_EVERY_S``, then gives
back whatever it had not started; at this number's 20 messages a second that is a handful.
"""

from __future__ import annotations

import json
import time

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.counts.recount import recount
from core.dispatch.rate import LANES
from core.models import Campaign, Message, Shop
from jobs.dispatch import STOP_CHECK_EVERY_S, Lane
from tests import shopify_webhooks
from tests.browser import serve
from tests.faults.ground_truth import fast_webhooks, recipients
from tests.faults.test_process_faults import _launch, _sigkill_tree, _start_worker
from tests.meta_stand_in import WABA_ID, whatsapp_shop
from tests.waiting import wait_for

COUNT = 300
RATE = 20  # messages a second: the campaign would take 15 s


def _accepted(meta) -> int:
    return len(meta.truth()["messages"])


def _uninstalled(make, shop_id: int) -> bool:
    with Session(make.engine) as session:
        return session.get(Shop, shop_id).uninstalled_at is not None


def _campaign(make, shop_id: int, campaign_id: int) -> Campaign:
    with Session(make.engine) as session:
        return session.get(Campaign, (shop_id, campaign_id))


def _messages(make, campaign_id: int) -> list[Message]:
    with Session(make.engine) as session:
        return list(session.scalars(select(Message).where(Message.campaign_id == campaign_id)))


def _nothing_in_flight(make, campaign_id: int) -> bool:
    """Every message claimed for sending has its answer recorded (or was given back and failed)."""
    return not [
        m for m in _messages(make, campaign_id) if m.status == "queued" and m.submitted_at is not None
    ]


def test_nothing_is_sent_after_uninstall(client, app, make, meta):
    """Mid-dispatch, app/uninstalled: every send Meta takes after the uninstall is applied was
    claimed before it (at most a batch and a half per lane), the lanes stop, the campaign halts
    saying the app was uninstalled, every message never sent fails with APP_UNINSTALLED, nobody
    is messaged twice, the counters hold, and our app is unsubscribed from the WABA."""
    shop = whatsapp_shop(make, credits=10_000, messages_per_second=RATE)
    recipients(make, shop, COUNT)
    workers = []
    with serve(app) as app_url:
        fast_webhooks(meta, app_url)
        campaign_id = _launch(client, shop)
        # Both lanes take a worker each, Meta's statuses keep a drain busy on a third: the fourth
        # is free for Shopify's webhook when it comes.
        workers = [_start_worker(f"fault-uninstall-{n}") for n in range(LANES + 2)]
        try:
            wait_for(lambda: _accepted(meta) >= 30, 60, "the campaign to be sending")
            body = json.dumps({"id": 1, "myshopify_domain": shop.domain}).encode()
            headers = shopify_webhooks.headers("app/uninstalled", body, shop=shop.domain)
            assert requests.post(f"{app_url}/webhooks/shopify", data=body, headers=headers, timeout=10).ok
            wait_for(lambda: _uninstalled(make, shop.id), 30, "the uninstall to be applied", every_s=0.01)
            applied_at = time.time()  # the commit came before this moment
            wait_for(lambda: _campaign(make, shop.id, campaign_id).halted_code, 30, "the campaign to halt")
            wait_for(lambda: _nothing_in_flight(make, campaign_id), 30, "the sends in flight to be answered")
            sent_by_then = _accepted(meta)
            time.sleep(STOP_CHECK_EVERY_S * 4)
            assert _accepted(meta) == sent_by_then, "a lane went on sending"
            wait_for(lambda: meta.subscriptions()["unsubscriptions"], 30, "our app to leave the WABA")
        finally:
            for worker in workers:
                _sigkill_tree(worker)

    fates = list(meta.truth()["messages"].values())
    messages = _messages(make, campaign_id)
    claimed_before = {m.phone for m in messages if m.submitted_at and m.submitted_at.timestamp() < applied_at}
    late = [send["to"] for send in meta.sends() if send["accepted_at"] > applied_at]
    assert set(late) <= claimed_before, "a message claimed after the uninstall was sent"
    batch = Lane(None, "", "", RATE).batch_size
    assert len(late) <= LANES * batch * 3 // 2
    assert len(fates) < COUNT

    sent_to = [fate["to"] for fate in fates]
    assert len(sent_to) == len(set(sent_to)), "nobody was sent a message twice"
    unsent = [m for m in messages if m.phone not in set(sent_to)]
    assert unsent and all(m.status == "failed" and m.error_code == "APP_UNINSTALLED" for m in unsent)
    campaign = _campaign(make, shop.id, campaign_id)
    assert campaign.halted_code == "APP_UNINSTALLED" and "uninstalled" in campaign.halted_reason
    with Session(make.engine) as session, session.begin():
        assert recount(session, shop.id, [campaign_id]) == []
    assert [u["waba_id"] for u in meta.subscriptions()["unsubscriptions"]] == [WABA_ID]
    with Session(make.engine) as session:
        assert session.get(Shop, shop.id).meta_access_token_ciphertext is None
