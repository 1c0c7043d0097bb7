"""Meta's messaging limit before sending: a launch larger than the room the limit leaves is
refused with the numbers, or, when the merchant chooses, sent in waves a day apart; the first
wave takes the room left now and the stand-in sees no more than that."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Campaign, Message, ShopAlert, WhatsAppConnection
from jobs.launch import launch_scheduled_campaign
from tests.meta_stand_in import PHONE_NUMBER_ID, WABA_ID, whatsapp_shop
from tests.tokens import bearer

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

LIMIT = 10


def _shop_with_limit(make, limit: int | None, tier: str | None = None):
    shop = whatsapp_shop(make)
    make._save(
        WhatsAppConnection(
            shop_id=shop.id,
            waba_id=WABA_ID,
            phone_number_id=PHONE_NUMBER_ID,
            messages_per_second=1000,
            messaging_limit=limit,
            messaging_limit_tier=tier,
        )
    )
    return shop


def _already_reached(make, shop, customers: int) -> None:
    """A campaign sent an hour ago reached ``customers`` customers (no longer subscribed, so
    outside the new audience)."""
    earlier = make.campaign(
        shop,
        "Earlier",
        status="SENT",
        dispatch_started_at=datetime.now(UTC) - timedelta(hours=1),
        dispatch_finished_at=datetime.now(UTC) - timedelta(minutes=50),
    )
    for n in range(customers):
        make.message(
            earlier,
            make.customer(shop, consent="UNSUBSCRIBED"),
            phone=f"+346199{n:05d}",
            wamid=f"wamid.early-{n}",
            status="delivered",
            accepted_at=datetime.now(UTC) - timedelta(hours=1),
        )


def _draft(client, make, shop, recipients: int) -> int:
    for n in range(recipients):
        make.customer(shop, phone=f"+346180{n:05d}", phone_e164=f"+346180{n:05d}")
    created = client.post(
        "/api/campaigns",
        json={"name": "Big sale", "template": {"name": "weekly_offer", "language": "en"}},
        headers=bearer(),
    )
    return created.json["id"]


def test_a_launch_past_the_room_left_is_refused_with_the_numbers(client, make, meta):
    shop = _shop_with_limit(make, LIMIT)
    _already_reached(make, shop, 4)
    campaign_id = _draft(client, make, shop, 25)
    answer = client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer())
    assert answer.status_code == 422
    [failure] = [e for e in answer.json["errors"] if e["check"] == "messaging_limit"]
    for words in ("10 customers in any 24 hours", "4 were messaged", "6 can be reached now", "25", "3 days"):
        assert words in failure["message"], words


def test_spread_sends_the_room_left_now_and_the_rest_in_daily_waves(client, make, meta, run_jobs):
    shop = _shop_with_limit(make, LIMIT)
    _already_reached(make, shop, 4)
    campaign_id = _draft(client, make, shop, 25)
    launched = client.post(f"/api/campaigns/{campaign_id}/launch", json={"spread": True}, headers=bearer())
    assert launched.status_code == 202, launched.json
    run_jobs()
    assert len(meta.sends()) == 6
    with Session(make.engine) as session:
        campaign = session.get(Campaign, (shop.id, campaign_id))
        waiting = session.scalars(
            select(Message.retry_at).where(Message.campaign_id == campaign_id, Message.status == "queued")
        ).all()
    assert (campaign.spread_first_wave, campaign.spread_wave_size, campaign.dispatch_finished_at) == (
        6,
        10,
        None,
    )
    days = sorted(round((at - campaign.launched_at) / timedelta(hours=24), 2) for at in waiting)
    assert len(days) == 19 and set(days) == {1.01, 2.01}  # 24 h 10 min, then 48 h 20 min
    assert days.count(1.01) == 10


def test_an_unlimited_or_unknown_limit_is_no_check(client, make, meta):
    shop = _shop_with_limit(make, None, tier="TIER_UNLIMITED")
    _already_reached(make, shop, 4)
    campaign_id = _draft(client, make, shop, 25)
    assert client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer()).status_code == 202


def _stand_in_limit(meta, customers: int) -> None:
    accounts = meta.configure()["accounts"]
    accounts[PHONE_NUMBER_ID]["messaging_limit_count"] = customers
    meta.configure(accounts=accounts)


def test_the_stand_in_fails_what_goes_past_metas_limit(client, make, meta, run_jobs):
    """An app that did not know the limit: Meta (the stand-in) accepts every send and fails
    those past the limit, undeliverable."""
    _stand_in_limit(meta, 5)
    shop = _shop_with_limit(make, None)
    campaign_id = _draft(client, make, shop, 8)
    assert client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer()).status_code == 202
    run_jobs()
    truth = meta.truth()
    assert truth["over_messaging_limit"] == 3
    assert sum(1 for m in truth["messages"].values() if m["error_code"] == 131026) >= 3


def test_knowing_the_limit_the_app_sends_nothing_meta_would_fail(client, make, meta, run_jobs):
    """The same limit known from Meta's webhook: spread, the first wave takes the room and the
    stand-in counts nothing past the limit."""
    _stand_in_limit(meta, 5)
    shop = _shop_with_limit(make, 5)
    campaign_id = _draft(client, make, shop, 8)
    launched = client.post(f"/api/campaigns/{campaign_id}/launch", json={"spread": True}, headers=bearer())
    assert launched.status_code == 202
    run_jobs()
    assert (len(meta.sends()), meta.truth()["over_messaging_limit"]) == (5, 0)


def _schedule(client, campaign_id: int, **extra) -> datetime:
    at = (datetime.now(UTC) + timedelta(minutes=5)).replace(microsecond=0)
    answer = client.post(
        f"/api/campaigns/{campaign_id}/schedule",
        json={"scheduled_at": at.isoformat(), **extra},
        headers=bearer(),
    )
    assert answer.status_code == 200, answer.json
    return at


def test_a_scheduled_launch_is_held_to_the_room_left_when_it_is_due(client, make, meta, run_jobs):
    """Scheduled while the limit had room for all 8, due after another campaign took 4 of the
    10: it goes back to draft with the numbers; scheduled again to spread, it sends the 6 the
    room leaves and keeps the rest for the next day."""
    shop = _shop_with_limit(make, LIMIT)
    campaign_id = _draft(client, make, shop, 8)
    at = _schedule(client, campaign_id)
    _already_reached(make, shop, 4)
    assert launch_scheduled_campaign(shop.id, campaign_id, at.isoformat()) is False
    with Session(make.engine) as session:
        assert session.get(Campaign, (shop.id, campaign_id)).status == "DRAFT"
        alert = session.scalar(select(ShopAlert).where(ShopAlert.campaign_id == campaign_id))
    assert alert.code == "LAUNCH_CHECKS_FAILED" and "6 can be reached now" in alert.details
    at = _schedule(client, campaign_id, spread=True)
    assert launch_scheduled_campaign(shop.id, campaign_id, at.isoformat()) is True
    run_jobs()
    assert len(meta.sends()) == 6
    with Session(make.engine) as session:
        assert session.get(Campaign, (shop.id, campaign_id)).spread_first_wave == 6
