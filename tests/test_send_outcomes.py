"""Outcomes as Meta means them, through the real stand-in and RQ workers: a template-wide
refusal halts the campaign once, a 2xx without a message id is never resent, a 131050 at send
time unsubscribes the customer, and a stop keyed by business-scoped user id finds its customer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.models import Campaign, Customer, Message, ShopAlert
from jobs.chains import start_dispatch
from tests.browser import serve
from tests.meta_stand_in import PHONE_NUMBER_ID, whatsapp_shop
from tests.tokens import bearer

PERSONAL = [{"field": "first_name", "fallback": "friend"}, {"text": "SPRING15"}]


def _customers(make, shop, count: int) -> list:
    return [
        make.customer(shop, first_name=f"C{n}", phone=f"+3461300{n:04d}", phone_e164=f"+3461300{n:04d}")
        for n in range(count)
    ]


def _launch(client, template: str = "personal_offer", parameters: list = PERSONAL) -> int:
    created = client.post(
        "/api/campaigns",
        json={"name": "Outcomes", "template": {"name": template, "language": "en"}, "parameters": parameters},
        headers=bearer(),
    )
    assert created.status_code == 201, created.json
    assert client.post(f"/api/campaigns/{created.json['id']}/launch", headers=bearer()).status_code == 202
    return created.json["id"]


def _rows(make, model, *where) -> list:
    with Session(make.engine) as session:
        return list(session.scalars(select(model).where(*where)))


def test_a_template_wide_refusal_halts_the_campaign_with_one_alert(client, make, meta, run_jobs):
    """Meta's template gains a body parameter after launch: the first 132000 halts the campaign,
    the merchant gets one alert, and the messages not yet handed over are failed by us instead
    of each being sent and refused."""
    shop = whatsapp_shop(make, messages_per_second=20)
    _customers(make, shop, 40)
    campaign_id = _launch(client)
    templates = meta.http.get(f"{meta.url}/sim/config").json()["templates"]
    for template in templates:
        if template["name"] == "personal_offer":
            template["components"][0]["text"] += " Ends {{3}}."
    meta.configure(templates=templates)
    run_jobs()

    messages = _rows(make, Message, Message.campaign_id == campaign_id)
    refused_by_meta = [m for m in messages if m.error_source == "meta"]
    assert {m.error_code for m in messages} == {"132000"} and all(m.status == "failed" for m in messages)
    assert len(refused_by_meta) == meta.truth()["refused"]["132000"] < len(messages)
    alerts = _rows(make, ShopAlert, ShopAlert.shop_id == shop.id)
    assert [(a.campaign_id, a.code) for a in alerts] == [(campaign_id, "132000")]
    (campaign,) = _rows(make, Campaign, Campaign.id == campaign_id)
    assert "132000" in campaign.halted_reason


def test_a_2xx_without_a_message_id_is_never_resent_and_settles_unconfirmed(
    client, make, meta, run_jobs, runner
):
    """Meta answers 200 but names no message: the send is not retried however often dispatch
    runs, and with no webhook it settles as SEND_UNCONFIRMED, never as a retryable error."""
    shop = whatsapp_shop(make)
    _customers(make, shop, 3)
    meta.configure(rules=[{"to": "+34613000001", "answer_without_id": True}])
    campaign_id = _launch(client)
    run_jobs()
    start_dispatch(shop.id, campaign_id)
    run_jobs()
    (unknown,) = _rows(make, Message, Message.campaign_id == campaign_id, Message.phone == "+34613000001")
    assert (unknown.status, unknown.wamid, unknown.error_code) == ("queued", None, None)
    assert [f["to"] for f in meta.truth()["messages"].values()].count("+34613000001") == 1
    with Session(make.engine) as session, session.begin():
        stale = datetime.now(UTC) - timedelta(days=2)
        session.execute(update(Message).where(Message.id == unknown.id).values(submitted_at=stale))
    assert "1 unconfirmed sends failed" in runner.invoke(args=["monitor"]).output
    (settled,) = _rows(make, Message, Message.id == unknown.id)
    assert (settled.status, settled.error_code) == ("failed", "SEND_UNCONFIRMED")


def test_a_131050_at_send_time_unsubscribes_the_customer(client, make, meta, run_jobs):
    """Meta refuses one send with 131050: that message fails, its customer is unsubscribed
    (as a failed status webhook would do), and the campaign goes on for everyone else."""
    shop = whatsapp_shop(make)
    customers = _customers(make, shop, 3)
    meta.configure(rules=[{"to": "+34613000002", "error": 131050}])
    campaign_id = _launch(client)
    run_jobs()
    messages = {m.phone: m for m in _rows(make, Message, Message.campaign_id == campaign_id)}
    assert (messages["+34613000002"].status, messages["+34613000002"].error_code) == ("failed", "131050")
    assert sum(1 for m in messages.values() if m.wamid) == 2
    consent = {c.phone_e164: c.consent for c in _rows(make, Customer, Customer.shop_id == shop.id)}
    assert consent == {
        c.phone_e164: "UNSUBSCRIBED" if c.phone_e164 == "+34613000002" else "SUBSCRIBED" for c in customers
    }
    (campaign,) = _rows(make, Campaign, Campaign.id == campaign_id)
    assert campaign.halted_reason is None


def test_a_stop_keyed_by_business_scoped_user_id_unsubscribes_the_customer(app, client, make, meta, run_jobs):
    """Recipients with usernames: statuses carry recipient_user_id instead of recipient_id, and
    a later stop that names only that user id (no wa_id) unsubscribes the right customer."""
    shop = whatsapp_shop(make)
    _customers(make, shop, 4)
    with serve(app) as app_url:
        meta.configure(
            webhook_url=f"{app_url}/webhooks/meta",
            delivery={"username_share": 1.0, "failed": 0.0, "failed_then_delivered": 0.0},
        )
        campaign_id = _launch(client, "weekly_offer", [])
        run_jobs()
        meta.wait_until_posted()
        run_jobs()
        truth = meta.truth()["messages"]
        messages = _rows(make, Message, Message.campaign_id == campaign_id)
        assert all(m.recipient_user_id == truth[m.wamid]["user_id"] is not None for m in messages)
        stopped = messages[1]
        emitted = meta.http.post(
            f"{meta.url}/sim/emit",
            json={
                "kind": "user_preferences",
                "phone_number_id": PHONE_NUMBER_ID,
                "user_id": stopped.recipient_user_id,
            },
        )
        assert emitted.status_code == 200, emitted.text
        assert "wa_id" not in emitted.json()["entry"][0]["changes"][0]["value"]["user_preferences"][0]
        run_jobs()
    consent = {c.id: c.consent for c in _rows(make, Customer, Customer.shop_id == shop.id)}
    assert consent.pop(stopped.customer_id) == "UNSUBSCRIBED"
    assert set(consent.values()) == {"SUBSCRIBED"}
