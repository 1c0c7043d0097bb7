"""End to end: a campaign to Spain, Germany and the United States launched through the API,
sent by real RQ workers to the Meta stand-in, whose status webhooks reach the app over HTTP;
then ``flask --app web meta-billing`` reads what the stand-in billed through its
``pricing_analytics``. Our cost equals Meta's to the cent on every day, and nothing drifts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.dispatch.materialise import materialise_audience
from core.models import InboxEvent, Message, ShopAlert
from jobs.chains import start_dispatch
from tests.browser import serve
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer
from tests.waiting import wait_for

pytestmark = pytest.mark.citus

PHONES = [f"+3461{n:07d}" for n in range(30)] + [f"+49151{n:08d}" for n in range(15)]
PHONES += [f"+1202555{n:04d}" for n in range(15)]


def _all_applied(make, shop_id: int, campaign_id: int, meta) -> bool:
    with Session(make.engine) as session:
        waiting = session.scalar(
            select(Message.id).where(
                Message.shop_id == shop_id, Message.campaign_id == campaign_id, Message.wamid.is_(None)
            )
        )
        unprocessed = session.scalar(select(InboxEvent.id).where(InboxEvent.processed_at.is_(None)))
    return waiting is None and unprocessed is None and meta.stats()["pending_webhooks"] == 0


def test_our_cost_equals_metas_pricing_analytics(client, app, make, meta, run_jobs, runner):
    """Every UTC day of the campaign: our billed messages and cost equal Meta's regular volume
    and cost exactly; messages Meta priced free show as Meta's free volume; no drift alert."""
    shop = whatsapp_shop(make)
    for n, phone in enumerate(PHONES):
        make.customer(shop, first_name=f"C{n}", phone=phone, phone_e164=phone)
    with serve(app) as app_url:
        meta.configure(
            webhook_url=f"{app_url}/webhooks/meta",
            delivery={"read": 0.4, "sent_only": 0.1, "failed": 0.1, "free_customer_service": 0.1},
            adversity={"duplicates": 0.2, "post_delay_s": [0, 0.5], "time_scale": 1e5},
        )
        created = client.post(
            "/api/campaigns",
            json={"name": "Billed sale", "template": {"name": "weekly_offer", "language": "en"}},
            headers=bearer(),
        ).json
        assert client.post(f"/api/campaigns/{created['id']}/launch", headers=bearer()).status_code == 202
        with Session(make.engine) as session, session.begin():
            assert materialise_audience(session, shop.id, created["id"]) == len(PHONES)

        def applied() -> bool:
            run_jobs()
            done = _all_applied(make, shop.id, created["id"], meta)
            if not done:
                start_dispatch(shop.id, created["id"])
            return done

        wait_for(applied, 120, "every send and webhook to be applied", every_s=0.3)
    today = datetime.now(UTC).date()
    days = [
        "--from",
        (today - timedelta(days=1)).isoformat(),
        "--to",
        (today + timedelta(days=1)).isoformat(),
    ]
    result = runner.invoke(args=["meta-billing", "--shop", shop.domain, *days])
    assert result.exit_code == 0, result.output
    assert ": reconciled (" in result.output

    campaign = client.get(f"/api/campaigns/{created['id']}", headers=bearer()).json
    billing = client.get("/api/trends", query_string={"from": days[1], "to": days[3]}, headers=bearer()).json[
        "meta_billing"
    ]
    read = [d for d in billing["days"] if d["ours"]["messages"]]
    assert read and all(d["status"] == "read" and not d["drifts"] for d in read)
    for day in read:
        assert day["ours"] == day["meta"], day
        for key in day["keys"]:
            assert (
                key["ours"]["messages"] == key["meta"]["messages"]
                and key["ours"]["cost"] == key["meta"]["cost"]
            )
    countries = {k["country"] for d in read for k in d["keys"] if k["ours"]["messages"]}
    assert countries == {"ES", "DE", "US"}
    metas = sum(Decimal(d["meta"]["cost"]) for d in read)
    assert metas == Decimal(campaign["cost"]["amount"])  # to the cent, and to the fourth place
    assert sum(d["meta"]["messages"] for d in read) == campaign["billed_messages"] > len(PHONES) // 2
    free = sum(k["meta"]["free_messages"] for d in billing["days"] for k in d["keys"])
    assert free > 0  # Meta's free replies: volume at no cost, not billed by either side
    assert campaign["meta_billing"]["drifting"] == 0
    with Session(make.engine) as session:
        codes = set(session.scalars(select(ShopAlert.code).where(ShopAlert.shop_id == shop.id)))
    assert "META_BILLING_DRIFT" not in codes
