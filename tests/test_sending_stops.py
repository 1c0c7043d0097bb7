"""Nothing is sent for a shop that uninstalled the app or disconnected WhatsApp: pending
campaigns halt (saying why), scheduled ones are cancelled on uninstall, launches are refused,
the claim hands out nothing, and our app is unsubscribed from the WABA before the Meta token is
forgotten. Real RQ workers, the Meta stand-in and signed Shopify webhooks throughout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.dispatch.claim import CampaignTemplate, claim_batch
from core.dispatch.materialise import materialise_audience
from core.dispatch.stop import SendingStopped
from core.models import Campaign, Message, Shop, ShopAlert, WhatsAppConnection
from core.redis import get_redis
from jobs.chains import schedule_launch
from jobs.reconcile import reconcile_campaigns
from jobs.shopify import drain_shopify_inbox
from tests import shopify_webhooks
from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, WABA_ID
from tests.test_campaign_lifecycle_api import _audience, _create
from tests.tokens import bearer

SHOP = "demo.myshopify.com"
CONNECT = {"waba_id": WABA_ID, "phone_number_id": PHONE_NUMBER_ID, "access_token": TOKEN}


@pytest.fixture
def shop(client, make, meta):
    """A shop connected through the API (so our app is subscribed to the stand-in's WABA), with
    four recipients and plenty of credits."""
    make.shop(SHOP, meta_phone_number_id=None, credits=1000)
    assert client.put("/api/whatsapp", json=CONNECT, headers=bearer()).status_code == 200
    with Session(make.engine) as session:
        connected = session.scalar(select(Shop).where(Shop.domain == SHOP))
    _audience(make, connected)
    return connected


def _launch(client, name: str = "Spring sale") -> int:
    """A launched campaign whose lanes are queued but not run yet."""
    campaign_id = _create(client, name=name).json["id"]
    assert client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer()).status_code == 202
    return campaign_id


def _uninstall(client) -> None:
    response = shopify_webhooks.post(client, "app/uninstalled", {"id": 1, "myshopify_domain": SHOP})
    assert response.status_code == 200


def _campaign(make, shop_id: int, campaign_id: int) -> Campaign:
    with Session(make.engine) as session:
        return session.get(Campaign, (shop_id, campaign_id))


def _messages(make, shop_id: int, campaign_id: int) -> list[Message]:
    with Session(make.engine) as session:
        return list(
            session.scalars(
                select(Message).where(Message.shop_id == shop_id, Message.campaign_id == campaign_id)
            )
        )


def _meta_token_anywhere(make, shop_id: int) -> bool:
    with Session(make.engine) as session:
        shop = session.get(Shop, shop_id)
        row = session.get(WhatsAppConnection, shop_id)
        return shop.meta_access_token_ciphertext is not None or (
            row is not None and row.release_token_ciphertext is not None
        )


def _unsubscribed(meta) -> list[tuple[str, bool]]:
    return [(u["waba_id"], u["was_subscribed"]) for u in meta.subscriptions()["unsubscriptions"]]


def test_after_uninstall_nothing_is_sent_pending_halts_and_scheduled_is_cancelled(
    client, make, meta, run_jobs, shop
):
    """app/uninstalled arrives while a launched campaign's lanes wait in the queue and another
    is scheduled: no message reaches Meta, the pending campaign halts saying the app was
    uninstalled (its messages fail with APP_UNINSTALLED), the scheduled one is CANCELLED, our
    app is unsubscribed from the WABA and the Meta token is forgotten."""
    pending = _launch(client)
    scheduled = _create(client, name="Later").json["id"]
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (
        client.post(
            f"/api/campaigns/{scheduled}/schedule", json={"scheduled_at": at}, headers=bearer()
        ).status_code
        == 200
    )

    _uninstall(client)
    run_jobs()

    assert meta.truth()["messages"] == {}
    halted = _campaign(make, shop.id, pending)
    assert halted.halted_code == "APP_UNINSTALLED"
    assert "uninstalled" in halted.halted_reason
    messages = _messages(make, shop.id, pending)
    assert messages and {m.error_code for m in messages if m.status == "failed"} <= {
        "APP_UNINSTALLED",
        "CUSTOMER_IS_MISSING_CALLING_CODE",
    }
    assert all(m.status == "failed" and m.submitted_at is None for m in messages)
    assert _campaign(make, shop.id, scheduled).status == "CANCELLED"
    assert _unsubscribed(meta) == [(WABA_ID, True)]
    assert meta.subscriptions()["subscribed"][WABA_ID] == []
    assert not _meta_token_anywhere(make, shop.id)


def test_the_claim_hands_out_nothing_once_the_uninstall_is_applied(client, make, meta, shop):
    """A lane that loaded its campaign before the uninstall and claims after it was applied (the
    halting step has not run yet) is refused: no message is handed over for sending."""
    campaign_id = _launch(client)
    _uninstall(client)
    drain_shopify_inbox()  # the uninstall is applied; nothing else has run
    campaign = _campaign(make, shop.id, campaign_id)
    with Session(make.engine) as session, session.begin():
        materialise_audience(session, shop.id, campaign_id)
    template = CampaignTemplate(shop.id, campaign_id, campaign.template_name, "en", [], PHONE_NUMBER_ID)
    with Session(make.engine) as session, session.begin(), pytest.raises(SendingStopped) as stopped:
        claim_batch(session, template, 10)
    assert stopped.value.reason.code == "APP_UNINSTALLED"
    assert all(m.submitted_at is None for m in _messages(make, shop.id, campaign_id))


def test_a_scheduled_launch_of_an_uninstalled_shop_is_refused(client, make, meta, run_jobs, shop):
    """A scheduled campaign whose time comes after the shop uninstalled (its cancellation was
    lost) is not launched: it becomes CANCELLED and nothing is sent."""
    campaign_id = _create(client).json["id"]
    at = datetime.now(UTC) + timedelta(hours=1)
    assert (
        client.post(
            f"/api/campaigns/{campaign_id}/schedule", json={"scheduled_at": at.isoformat()}, headers=bearer()
        ).status_code
        == 200
    )
    with Session(make.engine) as session, session.begin():
        session.execute(update(Shop).where(Shop.id == shop.id).values(uninstalled_at=datetime.now(UTC)))
        session.execute(
            update(Campaign)
            .where(Campaign.shop_id == shop.id, Campaign.id == campaign_id)
            .values(scheduled_at=datetime.now(UTC))
        )
    campaign = _campaign(make, shop.id, campaign_id)
    schedule_launch(shop.id, campaign_id, campaign.scheduled_at)
    run_jobs()
    assert _campaign(make, shop.id, campaign_id).status == "CANCELLED"
    assert meta.truth()["messages"] == {}


def test_the_cli_refuses_to_launch_for_an_uninstalled_shop(client, make, meta, runner, shop):
    """``flask campaigns launch`` for a shop that uninstalled the app fails, saying why; the
    campaign stays a draft."""
    campaign_id = _create(client).json["id"]
    with Session(make.engine) as session, session.begin():
        session.execute(update(Shop).where(Shop.id == shop.id).values(uninstalled_at=datetime.now(UTC)))
    result = runner.invoke(args=["campaigns", "launch", "Spring sale", "--shop", SHOP])
    assert result.exit_code != 0
    assert "uninstalled" in result.output
    assert _campaign(make, shop.id, campaign_id).status == "DRAFT"


def test_the_reconciler_stops_the_campaigns_of_an_uninstalled_shop(client, make, meta, run_jobs, shop):
    """The shop uninstalled but its halting step was lost (a worker died): the reconciler
    restarts no lane and launches nothing; it halts the pending campaign and cancels the due
    scheduled one, and nothing is sent."""
    pending = _launch(client)
    scheduled = _create(client, name="Later").json["id"]
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (
        client.post(
            f"/api/campaigns/{scheduled}/schedule", json={"scheduled_at": at}, headers=bearer()
        ).status_code
        == 200
    )
    get_redis().flushdb()  # the queued lanes and the launch are lost
    with Session(make.engine) as session, session.begin():
        session.execute(update(Shop).where(Shop.id == shop.id).values(uninstalled_at=datetime.now(UTC)))
        session.execute(
            update(Campaign)
            .where(Campaign.shop_id == shop.id, Campaign.id == scheduled)
            .values(scheduled_at=datetime.now(UTC))
        )
    reconcile_campaigns()
    run_jobs()
    assert meta.truth()["messages"] == {}
    assert _campaign(make, shop.id, pending).halted_code == "APP_UNINSTALLED"
    assert _campaign(make, shop.id, scheduled).status == "CANCELLED"


def test_a_disconnected_shops_running_campaign_halts(client, make, meta, run_jobs, shop):
    """WhatsApp disconnected (DELETE /api/whatsapp) while a launched campaign waits to send: the
    campaign halts saying WhatsApp was disconnected, its messages fail with
    WHATSAPP_DISCONNECTED instead of being tried against Meta, one alert is opened, our app is
    unsubscribed from the WABA and then the token is forgotten."""
    campaign_id = _launch(client)
    assert client.delete("/api/whatsapp", headers=bearer()).status_code == 204
    run_jobs()
    assert meta.truth()["messages"] == {}
    campaign = _campaign(make, shop.id, campaign_id)
    assert campaign.halted_code == "WHATSAPP_DISCONNECTED"
    assert "WhatsApp was disconnected" in campaign.halted_reason
    failed = {m.error_code for m in _messages(make, shop.id, campaign_id)}
    assert "WHATSAPP_DISCONNECTED" in failed and failed <= {
        "WHATSAPP_DISCONNECTED",
        "CUSTOMER_IS_MISSING_CALLING_CODE",
    }
    with Session(make.engine) as session:
        alerts = session.scalars(select(ShopAlert.code).where(ShopAlert.shop_id == shop.id)).all()
    assert alerts == ["WHATSAPP_DISCONNECTED"]
    assert (
        client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json["halted_reason"]
        == campaign.halted_reason
    )
    assert _unsubscribed(meta) == [(WABA_ID, True)]
    assert not _meta_token_anywhere(make, shop.id)
