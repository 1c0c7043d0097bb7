"""End to end: a 1,000-recipient campaign launched through the API, sent by real RQ workers to
the Meta stand-in, whose adversarial status webhooks (late, shuffled, duplicated, batched, read
without delivered, failed then delivered) reach the app's real webhook endpoint over HTTP. After
the worker drains, every number equals the stand-in's ground truth and the campaign settles
by the rule."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.counts.recount import recount
from core.dispatch.materialise import materialise_audience
from core.models import Campaign, CreditMovement, Customer, InboxEvent, Message, Shop
from core.outcomes.pricing import pricing_for
from core.whatsapp.callback import callback_for
from jobs.chains import start_dispatch
from tests.browser import serve
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer
from tests.waiting import wait_for

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

DEADLINE_S = 120


def _customers(make, shop) -> dict[str, list]:
    """1,000 recipients: 910 good numbers, 30 of which opt out after launch, 40 numbers without
    their calling code, 30 customers without a phone, 20 impossible numbers."""
    groups = {"good": [], "national": [], "no_phone": [], "invalid": []}
    for n in range(910):
        phone = f"+3461{n:07d}"
        groups["good"].append(make.customer(shop, first_name=f"C{n}", phone=phone, phone_e164=phone))
    for n in range(40):
        groups["national"].append(make.customer(shop, phone=f"612 {n:03d} 999", country_code="ES"))
    groups["no_phone"] = [make.customer(shop, phone=None) for _ in range(30)]
    groups["invalid"] = [make.customer(shop, phone=f"+999 {n}") for n in range(20)]
    return groups


def _adversarial(meta, app_url: str, groups: dict) -> None:
    good = [c.phone for c in groups["good"]]
    meta.configure(
        webhook_url=f"{app_url}/webhooks/meta",
        delivery={
            "read": 0.45,
            "sent_only": 0.04,
            "failed": 0.15,
            "read_without_delivered": 0.08,
            "failed_then_delivered": 0.06,
            "held": 0.05,
        },
        adversity={
            "duplicates": 0.25,
            "max_batch": 25,
            "multi_entry": 0.3,
            "post_delay_s": [0, 1.5],
            "time_scale": 1e5,
        },
        # Three recipients are over the throughput limit once; two answers are lost on the way
        # back (the message was taken: only its webhooks, tied by our callback data, tell us).
        rules=[{"to": phone, "error": 130429, "times": 1} for phone in good[:3]]
        + [{"to": phone, "disconnect": True} for phone in good[3:5]],
    )


def _settled_in_flight(make, shop_id: int, campaign_id: int, meta) -> bool:
    with Session(make.engine) as session:
        waiting = session.scalar(
            select(Message.id).where(
                Message.shop_id == shop_id,
                Message.campaign_id == campaign_id,
                Message.status == "queued",
                Message.wamid.is_(None),
            )
        )
        unprocessed = session.scalar(select(InboxEvent.id).where(InboxEvent.processed_at.is_(None)))
    return waiting is None and unprocessed is None and meta.stats()["pending_webhooks"] == 0


def _drain_everything(make, run_jobs, shop_id: int, campaign_id: int, meta) -> None:
    """Run the worker until every send is answered, every webhook posted and every stored
    webhook applied; a retry waiting for its backoff is started as soon as it is due."""

    def one_round() -> bool:
        run_jobs()
        if _settled_in_flight(make, shop_id, campaign_id, meta):
            return True
        start_dispatch(shop_id, campaign_id)
        return False

    wait_for(one_round, DEADLINE_S, "every send, webhook and stored webhook to be done", every_s=0.3)


def _let_the_ttl_pass(make, shop_id: int, campaign_id: int) -> None:
    """31 days later: what Meta took and never delivered is past the TTL."""
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Message)
            .where(Message.shop_id == shop_id, Message.campaign_id == campaign_id, Message.wamid.is_not(None))
            .values(
                submitted_at=_month_before(Message.submitted_at),
                accepted_at=_month_before(Message.accepted_at),
                held_at=_month_before(Message.held_at),
                sent_at=_month_before(Message.sent_at),
            )
        )
        session.execute(
            update(Campaign)
            .where(Campaign.shop_id == shop_id, Campaign.id == campaign_id)
            .values(
                launched_at=_month_before(Campaign.launched_at),
                dispatch_started_at=_month_before(Campaign.dispatch_started_at),
            )
        )


def _month_before(column):
    """``column`` less 31 days, in UTC: timestamptz - interval depends on the session's time zone
    (a STABLE operator, which Citus refuses on a column in an UPDATE); the same arithmetic on
    the UTC wall time is IMMUTABLE, and the same instant."""
    return func.timezone("UTC", func.timezone("UTC", column) - timedelta(days=31))


def test_every_number_equals_metas_ground_truth(client, app, make, meta, run_jobs, runner):
    """The whole path, adversarial delivery included: per message and per metric, the app's
    numbers equal what the stand-in decided, and the campaign settles to the rule's status."""
    shop = whatsapp_shop(make, credits=5000)
    groups = _customers(make, shop)
    with serve(app) as app_url:
        _adversarial(meta, app_url, groups)
        created = client.post(
            "/api/campaigns",
            json={"name": "Big sale", "template": {"name": "weekly_offer", "language": "en"}},
            headers=bearer(),
        ).json
        assert client.post(f"/api/campaigns/{created['id']}/launch", headers=bearer()).status_code == 202
        with Session(make.engine) as session, session.begin():
            assert materialise_audience(session, shop.id, created["id"]) == 1000
            leaving = [c.id for c in groups["good"][-30:]]
            session.execute(update(Customer).where(Customer.id.in_(leaving)).values(consent="UNSUBSCRIBED"))
        _drain_everything(make, run_jobs, shop.id, created["id"], meta)
    _let_the_ttl_pass(make, shop.id, created["id"])
    assert runner.invoke(args=["monitor"]).exit_code == 0

    answers = meta.truth()
    truth = answers["messages"]
    # The run was as adversarial as intended: retries, duplicates, every odd order Meta produces.
    assert answers["refused"] == {"130429": 3}
    assert meta.stats()["statuses"] > sum(len(t["events"]) for t in truth.values())
    outcomes = Counter(t["outcome"] for t in truth.values())
    assert all(
        outcomes[o] for o in ("read_without_delivered", "failed_then_delivered", "sent_only", "failed")
    )
    with Session(make.engine) as session:
        messages = list(session.scalars(select(Message).where(Message.campaign_id == created["id"])))
    _each_message_matches(messages, truth)
    _metrics_match(client, created["id"], messages, truth)
    with Session(make.engine) as session, session.begin():
        assert recount(session, shop.id, [created["id"]]) == []
    _cost_and_credits_match(client, make, shop.id, created["id"], truth)


def _cost_and_credits_match(client, make, shop_id: int, campaign_id: int, truth: dict) -> None:
    """Cost is Meta's rate for every message the stand-in billed; the credits kept are exactly
    the billed messages, every other reservation came back, and the ledger adds up."""
    billed = [t for t in truth.values() if t["billed"]]
    rate = (
        pricing_for(None, "USD").card_on(datetime.now(UTC).date()).rate("ES", "marketing")
    )  # the stand-in bills in USD
    assert {t["pricing_category"] for t in billed} == {"marketing"}
    campaign = client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json
    assert campaign["billed_messages"] == len(billed)
    assert Decimal(campaign["cost"]["amount"]) == rate * len(billed)
    assert campaign["cost"]["currency"] == "USD"
    with Session(make.engine) as session:
        kept = session.scalar(
            select(func.sum(CreditMovement.amount)).where(CreditMovement.campaign_id == campaign_id)
        )
        balance = session.scalar(select(Shop.credits).where(Shop.id == shop_id))
    assert kept == -len(billed)
    assert balance == 5000 - len(billed)


def _each_message_matches(messages: list[Message], truth: dict) -> None:
    by_wamid = {m.wamid: m for m in messages if m.wamid}
    assert set(by_wamid) == set(truth)  # every accepted message, including the lost answers
    assert len({t["to"] for t in truth.values()}) == len(truth)  # nobody was sent twice
    for wamid, fate in truth.items():
        message = by_wamid[wamid]
        assert fate["callback"] == callback_for(message.shop_id, message.id)
        assert (message.delivered_at is not None) == fate["delivered"], (wamid, fate)
        assert (message.read_at is not None) == fate["read"], (wamid, fate)
        if fate["failed"]:
            assert (message.status, message.error_code) == ("failed", str(fate["error_code"])), (wamid, fate)
        elif fate["outcome"] == "sent_only":
            assert (message.status, message.error_code) == ("expired", "MESSAGE_EXPIRED")
        else:
            assert message.status == ("read" if fate["read"] else "delivered"), (wamid, fate)
    pre_send = Counter(m.error_code for m in messages if not m.wamid)
    assert pre_send == {
        "CUSTOMER_IS_MISSING_CALLING_CODE": 40,
        "CUSTOMER_IS_NOT_OPTED_IN": 30,
        "CUSTOMER_HAS_NO_PHONE": 30,
        "CUSTOMER_PHONE_IS_INVALID": 20,
    }


def _metrics_match(client, campaign_id: int, messages: list[Message], truth: dict) -> None:
    fates = list(truth.values())
    expected = {
        "messages": 1000,
        "sent": len(fates),
        "delivered": sum(f["delivered"] for f in fates),
        "read": sum(f["read"] for f in fates),
        "failed": sum(f["failed"] or f["outcome"] == "sent_only" for f in fates) + 120,
        "clicked": 0,
        "orders": 0,
    }
    campaign = client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json
    assert campaign["metrics"] == expected
    verdict = (
        "SENT" if expected["failed"] == 0 else "FAILED" if expected["delivered"] == 0 else "PARTIALLY_SENT"
    )
    assert campaign["status"] == verdict
    assert campaign["progress"] == {
        "messages": 1000,
        "queued": 0,
        "submitted": len(fates),
        "failed_before_send": 120,
        "dispatch_started": True,
        "dispatch_finished": True,
    }
    assert datetime.fromisoformat(campaign["completed_at"]) <= datetime.now(UTC)
