"""Test then send: an A/B campaign's variants go to a test share of its audience, and after the
test's hours the winner goes to the rest, once, through the API, dispatch and the Meta stand-in.
The clock is moved by setting the test's start back in the database, and the rest's job is run
directly (twice, as a retry would)."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
import rq
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.dispatch.materialise import materialise_audience
from core.experiments import test_then_send as tested
from core.experiments.split import variant_of
from core.models import Campaign, CampaignHoldout, Message
from jobs.monitor import run_monitor
from jobs.test_then_send import send_rest_job
from jobs.worker import run_worker
from tests.browser import admin_query, serve
from tests.meta import drift as kept_drift
from tests.meta_stand_in import whatsapp_shop
from tests.test_experiments import PERSONAL, _variant
from tests.test_messaging_limit import _shop_with_limit
from tests.tokens import bearer, session_token

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

SHOP = "demo.myshopify.com"  # the shop of bearer() and whatsapp_shop()


def _body(**test_then_send) -> dict:
    return {
        "name": "Test first",
        "variants": [
            _variant("Plain", "weekly_offer", 45),
            _variant("Personal", "personal_offer", 45, PERSONAL),
        ],
        "holdout": {"share": 10},
        **({"test_then_send": test_then_send} if test_then_send else {}),
    }


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (_body(share=4, hours=4), "test_then_send.share", "at least 5%"),
        (_body(share=51, hours=4), "test_then_send.share", "at most 50%"),
        (_body(share=20, hours=0), "test_then_send.hours", "at least one hour"),
        (_body(share=20, hours=73), "test_then_send.hours", "at most 72 hours"),
        (
            {
                "name": "Lone",
                "template": {"name": "weekly_offer", "language": "en"},
                "test_then_send": {"share": 20, "hours": 4},
            },
            "test_then_send",
            "two or more variants",
        ),
    ],
)
def test_test_then_send_is_checked_before_a_draft_is_saved(client, make, meta, body, field, words):
    whatsapp_shop(make)
    answer = client.post("/api/campaigns", json=body, headers=bearer())
    assert answer.status_code == 422, answer.json
    assert any(e["field"] == field and words in e["message"] for e in answer.json["errors"]), answer.json


def _page(client, campaign_id: int) -> str:
    """The campaign page's text, as the merchant's browser gets it."""
    page = client.get(f"/campaigns/{campaign_id}?{admin_query(SHOP, session_token(SHOP))}")
    assert page.status_code == 200
    return " ".join(page.get_data(as_text=True).split())


def _sent(meta) -> Counter:
    """How many messages the stand-in took for each phone number."""
    return Counter(m["to"] for m in meta.truth()["messages"].values())


def _run_jobs() -> None:
    """Every queued and due job, run in this process: no fork per job (a third of a second each)."""
    run_worker(burst=True, name=f"in-process-{uuid.uuid4().hex[:8]}", worker_class=rq.SimpleWorker)


def test_the_test_share_gets_the_variants_then_the_rest_gets_the_winner_once(app, client, make, meta):
    shop = whatsapp_shop(make)
    people = [
        make.customer(shop, first_name=f"C{i}", phone=f"+3461880{i:04d}", phone_e164=f"+3461880{i:04d}")
        for i in range(120)
    ]
    created = client.post("/api/campaigns", json=_body(share=30, hours=4), headers=bearer())
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    assert created.json["test_then_send"]["share"] == 30 and created.json["test_then_send"]["part"] == "test"

    with serve(app) as app_url:
        meta.configure(
            webhook_url=f"{app_url}/webhooks/meta",
            # Every message reaches its phone, so both parts can settle now rather than at expiry.
            delivery={"failed": 0.0, "failed_then_delivered": 0.0, "sent_only": 0.0, "held": 0.0},
            adversity={"post_delay_s": [0, 0.02], "time_scale": 1e5},
        )
        assert client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer()).status_code == 202
        _run_jobs()
        meta.wait_until_posted()
        _run_jobs()

        with Session(make.engine) as session:
            campaign = session.get(Campaign, (shop.id, campaign_id))
            first = {
                m.customer_id: m.variant_id
                for m in session.scalars(select(Message).where(Message.campaign_id == campaign_id))
            }
        variants = campaign.variants
        assigned = {p.id: variant_of(campaign_id, p.id, 10, variants) for p in people}
        test = {p.id for p in people if assigned[p.id] is not None and tested.in_test(campaign_id, p.id, 30)}
        # Only the test share, each customer with the variant the split gives them, both variants.
        assert first == {c: assigned[c] for c in test}
        assert set(first.values()) == {1, 2}
        # Every test message is delivered and dispatch is over, yet the campaign waits for its rest.
        assert run_monitor(shop.id, campaign_id, reconcile=True).status_after == "PENDING"
        body = client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json
        assert body["metrics"]["delivered"] == body["metrics"]["messages"] == len(first)
        assert body["dispatch_finished_at"] is not None
        assert body["test_then_send"]["part"] == "test" and body["test_then_send"]["rest_due_at"]
        assert "the test part is running" in _page(client, campaign_id)

        assert send_rest_job(shop.id, campaign_id) is None  # the test's hours have not passed
        # Customers who joined since the launch are in the rest's audience, under the same split.
        people += [
            make.customer(shop, first_name=f"N{i}", phone=f"+3461881{i:04d}", phone_e164=f"+3461881{i:04d}")
            for i in range(30)
        ]
        assigned = {p.id: variant_of(campaign_id, p.id, 10, variants) for p in people}
        with make.engine.begin() as connection:  # four hours and a minute later
            # The new time is worked out here: Citus refuses an UPDATE whose SET applies a STABLE
            # operator (timestamptz minus interval) to a column.
            key = {"shop": shop.id, "id": campaign_id}
            started = connection.scalar(
                text("SELECT dispatch_started_at FROM campaigns WHERE shop_id = :shop AND id = :id"), key
            )
            connection.execute(
                text("UPDATE campaigns SET dispatch_started_at = :moved WHERE shop_id = :shop AND id = :id"),
                key | {"moved": started - timedelta(minutes=241)},
            )
        assert run_monitor(shop.id, campaign_id).due_for_rest
        rest = send_rest_job(shop.id, campaign_id)
        assert send_rest_job(shop.id, campaign_id) is None  # a second run does nothing
        _run_jobs()
        meta.wait_until_posted()
        _run_jobs()

    with Session(make.engine) as session:
        campaign = session.get(Campaign, (shop.id, campaign_id))
        messages = {
            m.customer_id: m.variant_id
            for m in session.scalars(select(Message).where(Message.campaign_id == campaign_id))
        }
        held = set(
            session.scalars(
                select(CampaignHoldout.customer_id).where(CampaignHoldout.campaign_id == campaign_id)
            )
        )
    choice = campaign.test_then_send
    winner = choice["winner"]
    assert winner in (1, 2) and choice["reason"]
    # The rest: everyone neither tested nor held out, each sent the winner; the test unchanged.
    others = {c for c, v in assigned.items() if v is not None} - test
    assert rest == choice["rest_messages"] == len(others) > 0
    assert messages == {**first, **{c: winner for c in others}}
    assert held == {c for c, v in assigned.items() if v is None} and not held & set(messages)
    assert campaign.held_out_count == len(held)
    # Nobody got two messages: Meta took one per phone, and as many as the campaign has.
    sent = _sent(meta)
    assert set(sent.values()) == {1} and sum(sent.values()) == len(messages) == campaign.messages_count
    # The campaign settles once both parts are delivered.
    assert run_monitor(shop.id, campaign_id, reconcile=True).status_after == "SENT"
    page = client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json
    assert page["test_then_send"]["part"] == "rest"
    assert (
        page["test_then_send"]["winner"]["id"] == winner
        and page["test_then_send"]["reason"] == choice["reason"]
    )
    assert page["metrics"]["messages"] == len(messages)
    assert send_rest_job(shop.id, campaign_id) is None  # settled: nothing more to do
    assert kept_drift(make.engine, campaign) == []


@pytest.mark.parametrize(
    ("experiment", "values", "winner", "words"),
    [
        ({"status": "winner", "winner": 2, "probability": 0.991}, {1: 0.2, 2: 0.4}, 2, "won the test: 99%"),
        (
            {"status": "no_clear_winner", "probabilities": {1: 0.3, 2: 0.6, 3: 0.1}},
            {1: 0.2, 2: 0.21, 3: 0.1},
            2,
            "no clear winner; sent the best so far (60%",
        ),
        ({"status": "not_enough_data"}, {1: 0.1, 2: None, 3: 0.3}, 3, "too little data"),
        ({"status": "not_enough_data"}, {1: None, 2: None}, 1, "no data yet"),
    ],
)
def test_the_rest_gets_the_winner_or_else_the_best_so_far(experiment, values, winner, words):
    assert tested.choose_winner(experiment, values)[0] == winner
    assert words in tested.choose_winner(experiment, values)[1]


def test_the_rest_goes_at_each_customers_hour_when_the_campaign_sends_so(client, make, meta):
    """No dispatch here: the launch's materialise and the rest's job, run directly."""
    shop = whatsapp_shop(make, timezone="Europe/Madrid")
    people = [
        make.customer(shop, first_name=f"D{i}", phone=f"+3461660{i:04d}", phone_e164=f"+3461660{i:04d}")
        for i in range(40)
    ]
    body = _body(share=50, hours=2) | {"send_time": {"mode": "per_customer", "window_hours": 24}}
    created = client.post("/api/campaigns", json=body, headers=bearer())
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    assert client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer()).status_code == 202
    with Session(make.engine) as session:
        assert materialise_audience(session, shop.id, campaign_id) > 0
        session.execute(
            text(
                "UPDATE campaigns SET dispatch_started_at = now() - interval '3 hours'"
                " WHERE shop_id = :shop AND id = :id"
            ),
            {"shop": shop.id, "id": campaign_id},
        )
        session.commit()
        tested_ids = set(
            session.scalars(select(Message.customer_id).where(Message.campaign_id == campaign_id))
        )
    before = datetime.now(UTC)
    assert send_rest_job(shop.id, campaign_id) > 0
    with Session(make.engine) as session:
        messages = session.scalars(select(Message).where(Message.campaign_id == campaign_id)).all()
    rest = [m for m in messages if m.customer_id not in tested_ids]
    assert rest and len(messages) < len(people)  # the holdout kept its share
    start = before.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    assert all(m.retry_at is not None and start <= m.retry_at < start + timedelta(hours=26) for m in rest)


def test_a_draft_keeps_changes_and_drops_its_test_then_send(client, make, meta):
    whatsapp_shop(make)
    created = client.post("/api/campaigns", json=_body(share=20, hours=4), headers=bearer())
    assert created.status_code == 201, created.json
    url = f"/api/campaigns/{created.json['id']}"
    changed = client.put(url, json=_body(share=40, hours=12), headers=bearer())
    assert changed.status_code == 200, changed.json
    assert {k: changed.json["test_then_send"][k] for k in ("share", "hours", "part")} == {
        "share": 40,
        "hours": 12,
        "part": "test",
    }
    assert client.put(url, json=_body(share=40, hours=80), headers=bearer()).status_code == 422
    dropped = client.put(url, json=_body(), headers=bearer())
    assert dropped.status_code == 200 and dropped.json["test_then_send"] is None
    assert client.get(url, headers=bearer()).json["test_then_send"] is None


def test_a_spread_campaigns_rest_waits_for_the_room_metas_limit_leaves(client, make, meta):
    """The rest of a campaign spread over Meta's messaging limit (10 a day here) sends what the
    room left allows now, the others a day later. No dispatch: nothing was accepted yet."""
    shop = _shop_with_limit(make, 10)
    for i in range(25):
        make.customer(shop, first_name=f"W{i}", phone=f"+3461550{i:04d}", phone_e164=f"+3461550{i:04d}")
    body = _body(share=20, hours=1) | {"holdout": None}
    body["variants"][0]["share"] = body["variants"][1]["share"] = 50
    created = client.post("/api/campaigns", json=body, headers=bearer())
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    launched = client.post(f"/api/campaigns/{campaign_id}/launch", json={"spread": True}, headers=bearer())
    assert launched.status_code == 202, launched.json
    with Session(make.engine) as session:
        assert materialise_audience(session, shop.id, campaign_id) > 0
        session.execute(
            text(
                "UPDATE campaigns SET dispatch_started_at = now() - interval '2 hours'"
                " WHERE shop_id = :shop AND id = :id"
            ),
            {"shop": shop.id, "id": campaign_id},
        )
        session.commit()
        test = session.scalars(select(Message).where(Message.campaign_id == campaign_id)).all()
    before = datetime.now(UTC)
    rest = send_rest_job(shop.id, campaign_id)
    with Session(make.engine) as session:
        winner = session.get(Campaign, (shop.id, campaign_id)).test_then_send["winner"]
        later = session.scalars(
            select(Message).where(
                Message.campaign_id == campaign_id, Message.retry_at > before + timedelta(hours=23)
            )
        ).all()
    waiting_winners = sum(1 for m in test if m.variant_id == winner)
    assert rest + len(test) == 25
    # The winner's messages still queued beyond the 10 of the room go a day later, all of the rest.
    assert len(later) == waiting_winners + rest - 10 > 0
    assert {m.variant_id for m in later} == {winner} and not {m.id for m in later} & {m.id for m in test}
