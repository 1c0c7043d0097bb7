"""Dispatch through the Cloud API stand-in, run by real RQ workers: pre-send failures with our
codes, one send per recipient whatever happens, retries, halts and ambiguous timeouts."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.counts.recount import recount
from core.dispatch.claim import CampaignTemplate, claim_batch
from core.dispatch.materialise import materialise_audience
from core.models import Campaign, Customer, Message, Shop, ShopAlert
from core.whatsapp.callback import callback_for
from jobs.chains import start_dispatch
from jobs.dispatch import send_campaign_messages
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _launch(client, template="personal_offer", **body) -> int:
    parameters = [{"field": "first_name", "fallback": "friend"}, {"text": "SPRING15"}]
    created = client.post(
        "/api/campaigns",
        json={
            "name": body.pop("name", "Spring sale"),
            "template": {"name": template, "language": "en"},
            "parameters": parameters if template == "personal_offer" else [],
            **body,
        },
        headers=bearer(),
    )
    assert created.status_code == 201, created.json
    launched = client.post(f"/api/campaigns/{created.json['id']}/launch", headers=bearer())
    assert launched.status_code == 202, launched.json
    return created.json["id"]


def _subscribers(make, shop, count: int, start: int = 0) -> list:
    return [
        make.customer(shop, first_name=f"C{n}", phone=f"+346120{n:05d}", phone_e164=f"+346120{n:05d}")
        for n in range(start, start + count)
    ]


def _messages(make, shop_id: int, campaign_id: int) -> list[Message]:
    with Session(make.engine) as session:
        return list(
            session.scalars(
                select(Message)
                .where(Message.shop_id == shop_id, Message.campaign_id == campaign_id)
                .order_by(Message.id)
            )
        )


def _campaign(make, shop_id: int, campaign_id: int) -> Campaign:
    with Session(make.engine) as session:
        return session.get(Campaign, (shop_id, campaign_id))


def _no_drift(make, shop_id: int, campaign_id: int) -> bool:
    with Session(make.engine) as session, session.begin():
        return recount(session, shop_id, [campaign_id]) == []


def test_dispatch_sends_each_subscriber_once_and_fails_the_rest_with_our_codes(client, make, meta, run_jobs):
    """Six good numbers are sent with their own parameters and our message id as callback data;
    a phone without its calling code, no phone, an impossible number and a customer who
    unsubscribed after launch fail before Meta with our codes. Counters, progress and credits
    are exact."""
    shop = whatsapp_shop(make, credits=50)
    good = _subscribers(make, shop, 6)
    national = make.customer(shop, phone="612 345 678", country_code="ES")
    make.customer(shop, phone=None)
    make.customer(shop, phone="+999 12")
    leaving = make.customer(shop, phone="+34699000001", phone_e164="+34699000001")
    campaign_id = _launch(client)
    with Session(make.engine) as session, session.begin():
        materialise_audience(session, shop.id, campaign_id)  # as the first lane does, then...
        session.execute(update(Customer).where(Customer.id == leaving.id).values(consent="UNSUBSCRIBED"))
    run_jobs()

    messages = _messages(make, shop.id, campaign_id)
    truth = meta.truth()["messages"]
    sent = [m for m in messages if m.wamid]
    assert len(sent) == 6 == len(truth)
    for message in sent:
        fate = truth[message.wamid]
        assert fate["callback"] == callback_for(shop.id, message.id) and fate["to"] == message.phone
        assert message.status == ("held" if fate["held"] else "accepted")
        assert message.accepted_at is not None and message.submitted_at is not None
    assert sorted(f["parameters"][0] for f in truth.values()) == sorted(c.first_name for c in good)
    failed = {m.customer_id: m for m in messages if not m.wamid}
    assert failed[national.id].error_code == "CUSTOMER_IS_MISSING_CALLING_CODE"
    assert (failed[national.id].phone, failed[national.id].country_code) == ("612 345 678", "ES")
    assert failed[leaving.id].error_code == "CUSTOMER_IS_NOT_OPTED_IN"
    codes = sorted(m.error_code for m in failed.values())
    assert codes == sorted(
        [
            "CUSTOMER_HAS_NO_PHONE",
            "CUSTOMER_IS_MISSING_CALLING_CODE",
            "CUSTOMER_IS_NOT_OPTED_IN",
            "CUSTOMER_PHONE_IS_INVALID",
        ]
    )
    assert all(m.status == "failed" and m.error_source == "ours" for m in failed.values())

    campaign = _campaign(make, shop.id, campaign_id)
    assert (campaign.messages_count, campaign.sent_count, campaign.failed_count) == (10, 6, 4)
    assert campaign.dispatch_finished_at is not None
    assert _no_drift(make, shop.id, campaign_id)
    progress = client.get(f"/api/campaigns/{campaign_id}/progress", headers=bearer()).json
    assert (progress["queued"], progress["submitted"], progress["failed_before_send"]) == (0, 6, 4)
    with Session(make.engine) as session:
        assert session.get(Shop, shop.id).credits == 50 - 6


def test_a_rate_limited_send_is_retried_after_its_backoff(client, make, meta, run_jobs):
    """130429 puts the message back in the queue with a backoff; the next run sends it, once."""
    shop = whatsapp_shop(make)
    _subscribers(make, shop, 3)
    meta.configure(rules=[{"to": "+34612000001", "error": 130429, "times": 1}])
    campaign_id = _launch(client)
    send_campaign_messages(shop.id, campaign_id)  # one run of a lane, here: no worker races the clock
    waiting = next(m for m in _messages(make, shop.id, campaign_id) if m.phone == "+34612000001")
    assert waiting.status == "queued" and waiting.retry_at is not None and waiting.submitted_at is None
    assert _campaign(make, shop.id, campaign_id).dispatch_finished_at is None
    with Session(make.engine) as session, session.begin():  # the backoff has passed
        past = datetime.now(UTC) - timedelta(seconds=1)
        session.execute(update(Message).where(Message.id == waiting.id).values(retry_at=past))
    run_jobs()  # the lanes the launch queued
    retried = next(m for m in _messages(make, shop.id, campaign_id) if m.id == waiting.id)
    assert retried.wamid and retried.send_attempts == 2
    assert [f["to"] for f in meta.truth()["messages"].values()].count("+34612000001") == 1
    assert meta.truth()["refused"] == {"130429": 1}
    assert _campaign(make, shop.id, campaign_id).dispatch_finished_at is not None
    assert _no_drift(make, shop.id, campaign_id)


def test_a_paused_template_halts_the_campaign_and_alerts_the_merchant(client, make, meta, run_jobs, runner):
    """Meta pauses the template after launch: every send is refused with 132015, the campaign
    stops, the messages never handed over fail with the same code as our decision, one alert is
    raised, and once settled the campaign is FAILED."""
    shop = whatsapp_shop(make, messages_per_second=20)
    _subscribers(make, shop, 40)
    campaign_id = _launch(client, template="weekly_offer")
    templates = meta.http.get(f"{meta.url}/sim/config").json()["templates"]
    meta.configure(templates=[dict(t, status="PAUSED") for t in templates])
    run_jobs()
    messages = _messages(make, shop.id, campaign_id)
    assert {m.error_code for m in messages} == {"132015"} and all(m.status == "failed" for m in messages)
    refused = {m.id for m in messages if m.error_source == "meta"}
    assert len(refused) == meta.truth()["refused"]["132015"] and meta.truth()["messages"] == {}
    assert any(m.error_source == "ours" for m in messages)  # dispatch stopped before the end
    campaign = _campaign(make, shop.id, campaign_id)
    assert "132015" in campaign.halted_reason and campaign.dispatch_finished_at is not None
    with Session(make.engine) as session:
        alerts = list(session.scalars(select(ShopAlert).where(ShopAlert.shop_id == shop.id)))
    assert len(alerts) == 1 and alerts[0].campaign_id == campaign_id and alerts[0].code == "132015"
    result = runner.invoke(args=["monitor"])
    assert result.exit_code == 0, result.output
    assert _campaign(make, shop.id, campaign_id).status == "FAILED"
    assert _no_drift(make, shop.id, campaign_id)


def test_an_ambiguous_timeout_is_never_resent_and_is_marked_if_no_webhook_comes(
    client, make, meta, run_jobs, runner
):
    """Meta took the message but the answer was lost: it is not sent again, however often
    dispatch runs, and a day without any webhook fails it as SEND_UNCONFIRMED."""
    shop = whatsapp_shop(make)
    _subscribers(make, shop, 3)
    meta.configure(rules=[{"to": "+34612000002", "disconnect": True}])
    campaign_id = _launch(client)
    run_jobs()
    start_dispatch(shop.id, campaign_id)
    run_jobs()
    lost = next(m for m in _messages(make, shop.id, campaign_id) if m.phone == "+34612000002")
    assert (lost.status, lost.wamid) == ("queued", None) and lost.submitted_at is not None
    assert [f["to"] for f in meta.truth()["messages"].values()].count("+34612000002") == 1
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Message)
            .where(Message.id == lost.id)
            .values(submitted_at=datetime.now(UTC) - timedelta(days=2))
        )
    result = runner.invoke(args=["monitor"])
    assert "1 unconfirmed sends failed" in result.output, result.output
    marked = next(m for m in _messages(make, shop.id, campaign_id) if m.id == lost.id)
    assert (marked.status, marked.error_code) == ("failed", "SEND_UNCONFIRMED")
    assert _no_drift(make, shop.id, campaign_id)


def test_messages_claimed_by_a_worker_that_died_are_not_sent_again(client, make, meta, run_jobs):
    """A worker claimed three messages and died before sending: the next worker sends the rest
    and leaves those three alone (they wait for a webhook, as an ambiguous send does)."""
    shop = whatsapp_shop(make)
    _subscribers(make, shop, 8)
    campaign = make.campaign(
        shop, status="PENDING", template_name="weekly_offer", template_language="en", dispatch_started_at=None
    )
    with Session(make.engine) as session, session.begin():
        materialise_audience(session, shop.id, campaign.id)
        dead = claim_batch(session, CampaignTemplate(shop.id, campaign.id, "weekly_offer", "en", []), 3)
    start_dispatch(shop.id, campaign.id)
    run_jobs()
    truth = meta.truth()["messages"]
    assert len(truth) == 5
    assert {f["callback"] for f in truth.values()}.isdisjoint(
        {callback_for(shop.id, o.message_id) for o in dead}
    )
    assert _no_drift(make, shop.id, campaign.id)


def test_credits_running_out_during_dispatch_fail_the_rest(client, make, meta, run_jobs):
    """Two credits left for five recipients: two are sent, three fail with INSUFFICIENT_CREDITS."""
    shop = whatsapp_shop(make)
    _subscribers(make, shop, 5)
    campaign_id = _launch(client)
    with Session(make.engine) as session, session.begin():
        session.execute(update(Shop).where(Shop.id == shop.id).values(credits=2))
    run_jobs()
    messages = _messages(make, shop.id, campaign_id)
    assert sum(1 for m in messages if m.wamid) == 2
    assert sorted(m.error_code for m in messages if not m.wamid) == ["INSUFFICIENT_CREDITS"] * 3
    with Session(make.engine) as session:
        assert session.get(Shop, shop.id).credits == 0


def test_two_worker_processes_send_every_message_exactly_once(client, make, meta):
    """Two `python -m jobs.worker --burst` processes share the campaign's lanes: 300 recipients,
    300 sends, no recipient twice, counters exact."""
    shop = whatsapp_shop(make)
    _subscribers(make, shop, 300)
    campaign_id = _launch(client, template="weekly_offer")
    workers = [
        subprocess.Popen([sys.executable, "-m", "jobs.worker", "--burst"], cwd=ROOT, env=os.environ.copy())
        for _ in range(2)
    ]
    for worker in workers:
        assert worker.wait(timeout=120) == 0
    truth = meta.truth()["messages"]
    assert len(truth) == 300 and len({f["to"] for f in truth.values()}) == 300
    campaign = _campaign(make, shop.id, campaign_id)
    assert (campaign.sent_count, campaign.submitted_count, campaign.dispatch_finished_at is not None) == (
        300,
        300,
        True,
    )
    assert _no_drift(make, shop.id, campaign_id)


def test_a_lane_that_loses_redis_sends_nothing_and_gives_every_message_back(client, make, meta, monkeypatch):
    """Without the number's bucket no send may go (the cap could not be kept): the lane stops
    claiming, every message it claimed goes back to the queue with a backoff, and the next run,
    with Redis back, sends each of them once."""
    shop = whatsapp_shop(make)
    _subscribers(make, shop, 5)
    campaign_id = _launch(client)
    with socket.socket() as nothing_listens:
        nothing_listens.bind(("127.0.0.1", 0))
        dead_redis = f"redis://127.0.0.1:{nothing_listens.getsockname()[1]}/0"
    with monkeypatch.context() as patch:
        patch.setenv("REDIS_URL", dead_redis)
        totals = send_campaign_messages(shop.id, campaign_id)
    assert meta.truth()["messages"] == {}
    assert totals["claimed"] == totals["requeued"] == 5
    messages = _messages(make, shop.id, campaign_id)
    assert all(m.status == "queued" and m.submitted_at is None and m.retry_at for m in messages)
    assert _no_drift(make, shop.id, campaign_id)
    with Session(make.engine) as session, session.begin():  # the backoff has passed
        past = datetime.now(UTC) - timedelta(seconds=1)
        session.execute(update(Message).where(Message.shop_id == shop.id).values(retry_at=past))
    send_campaign_messages(shop.id, campaign_id)
    truth = meta.truth()["messages"]
    assert len(truth) == 5 and len({f["to"] for f in truth.values()}) == 5
    assert _no_drift(make, shop.id, campaign_id)
