"""A campaign Meta stopped mid-send (its template paused, said by webhook and by send answers)
is resumed by the merchant once the template is approved again: only the messages that never
reached a customer go out, each customer gets the campaign once, and the counters stay exact."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Campaign, Message, ShopAlert
from tests import meta as meta_bodies
from tests.browser import serve
from tests.meta_stand_in import PHONE_NUMBER_ID, whatsapp_shop
from tests.tokens import bearer

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

RECIPIENTS = 24


def _campaign(make, session_id: int, campaign_id: int) -> Campaign:
    with Session(make.engine) as session:
        return session.get(Campaign, (session_id, campaign_id))


def _emit(meta, event: str) -> None:
    answer = meta.http.post(
        f"{meta.url}/sim/emit",
        json={
            "kind": "template_status",
            "phone_number_id": PHONE_NUMBER_ID,
            "event": event,
            "name": "weekly_offer",
            "language": "en",
        },
    )
    assert answer.status_code == 200, answer.text


def _halted_mid_send(client, app, make, meta, run_jobs):
    """Launch at 4 a second; after the fifth accepted send, Meta pauses the template."""
    shop = whatsapp_shop(make, messages_per_second=4)
    for n in range(RECIPIENTS):
        make.customer(shop, first_name=f"C{n}", phone=f"+346130{n:05d}", phone_e164=f"+346130{n:05d}")
    created = client.post(
        "/api/campaigns",
        json={"name": "Winter", "template": {"name": "weekly_offer", "language": "en"}},
        headers=bearer(),
    )
    campaign_id = created.json["id"]

    def pause_after_five() -> None:
        deadline = time.monotonic() + 60
        while len(meta.sends()) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        _emit(meta, "PAUSED")
        meta_bodies.drain()

    assert client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer()).status_code == 202
    pauser = threading.Thread(target=pause_after_five)
    pauser.start()
    try:
        run_jobs()
    finally:
        pauser.join()
    meta_bodies.drain()
    return shop, campaign_id


def _quiet_delivery(meta, app_url: str) -> None:
    meta.configure(
        webhook_url=f"{app_url}/webhooks/meta",
        delivery={"failed": 0.0, "failed_then_delivered": 0.0, "sent_only": 0.0, "held": 0.0},
        adversity={"post_delay_s": [0, 0.05], "duplicates": 0.1},
    )


def test_a_paused_template_stops_the_campaign_and_resume_sends_only_the_rest(
    client, app, make, meta, run_jobs
):
    with serve(app) as app_url:
        _quiet_delivery(meta, app_url)
        shop, campaign_id = _halted_mid_send(client, app, make, meta, run_jobs)
        halted = _campaign(make, shop.id, campaign_id)
        assert halted.halted_code == "132015" and "weekly_offer" in halted.halted_reason
        first_wave = len(meta.sends())
        assert 5 <= first_wave < RECIPIENTS

        still_paused = client.post(f"/api/campaigns/{campaign_id}/resume", headers=bearer())
        assert still_paused.status_code == 422
        assert [e["check"] for e in still_paused.json["errors"]] == ["template_approved"]
        assert _campaign(make, shop.id, campaign_id).halted_code == "132015"

        _emit(meta, "APPROVED")
        meta_bodies.drain()
        resumed = client.post(f"/api/campaigns/{campaign_id}/resume", headers=bearer())
        assert resumed.status_code == 202, resumed.json
        again = client.post(f"/api/campaigns/{campaign_id}/resume", headers=bearer())
        assert again.status_code == 409
        run_jobs()
        meta.wait_until_posted()
        meta_bodies.drain()

    sends = Counter(send["to"] for send in meta.sends())
    campaign = _campaign(make, shop.id, campaign_id)
    with Session(make.engine) as session:
        messages = list(session.scalars(select(Message).where(Message.campaign_id == campaign_id)))
        alerts = [a.code for a in session.scalars(select(ShopAlert).where(ShopAlert.shop_id == shop.id))]
    assert max(sends.values()) == 1 and len(sends) == RECIPIENTS == len(messages)  # each got it once
    assert campaign.halted_code is None and campaign.status in ("PENDING", "SENT")
    assert {m.status for m in messages} <= {"accepted", "sent", "delivered", "read"}
    assert "TEMPLATE_STOPPED" in alerts and "TEMPLATE_BACK" in alerts
    assert meta_bodies.drift(make.engine, campaign) == []


def test_resume_is_refused_for_a_campaign_that_did_not_stop_and_unknown_to_another_shop(client, make):
    shop = whatsapp_shop(make)
    running = make.campaign(shop, "Running")
    answer = client.post(f"/api/campaigns/{running.id}/resume", headers=bearer())
    assert answer.status_code == 409 and "stopped" in answer.json["message"]
    other = make.shop("other.myshopify.com")
    theirs = make.campaign(other, "Theirs", halted_code="131048", halted_reason="stopped")
    assert client.post(f"/api/campaigns/{theirs.id}/resume", headers=bearer()).status_code == 404
