"""The credit ledger: reservations kept for billed and in-flight messages, everything else
returned by the settlement, a late delivery taken back, and the balance equal to the ledger."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.db import libpq_url, normalise_url
from core.models import Campaign, CreditMovement, Message, Shop
from core.ops.citus import has_citus
from core.ops.migrate import fresh_database
from core.outcomes.credits import GRANT, RESERVE, move_credits, settle_credits
from tests import meta as webhooks
from tests.browser import admin_query
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer, session_token

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)


def _ledger(make, shop_id: int, campaign_id: int | None = None) -> int:
    with Session(make.engine) as session:
        query = select(func.coalesce(func.sum(CreditMovement.amount), 0)).where(
            CreditMovement.shop_id == shop_id
        )
        if campaign_id is not None:
            query = query.where(CreditMovement.campaign_id == campaign_id)
        return session.scalar(query)


def test_settlement_keeps_billed_and_in_flight_credits_and_returns_the_rest(make):
    """Of six reserved messages, the billed one and the one still in flight keep their credit;
    failed, expired, free and never-confirmed ones come back; a later delivery of the expired
    one takes its credit again; the balance always equals the ledger."""
    shop = make.shop(credits=0)
    campaign = make.campaign(shop, "Ledger")
    now = datetime.now(UTC)
    kinds = {
        "billed": dict(status="delivered", delivered_at=now, pricing_billable=True, pricing_type="regular"),
        "free": dict(
            status="delivered", delivered_at=now, pricing_billable=False, pricing_type="free_entry_point"
        ),
        "in_flight": dict(status="sent"),
        "failed": dict(status="failed", error_code="131026"),
        "expired": dict(status="expired", error_code="MESSAGE_EXPIRED"),
        "unconfirmed": dict(status="failed", error_code="SEND_UNCONFIRMED", wamid=None),
    }
    rows = {}
    for name, fields in kinds.items():
        fields = {"wamid": f"w.{name}", "submitted_at": now, **fields}
        rows[name] = make.message(campaign, make.customer(shop), **fields)
    with Session(make.engine) as session, session.begin():
        move_credits(session, shop.id, GRANT, 100)
        move_credits(session, shop.id, RESERVE, -6, campaign.id)  # as dispatch reserves
        assert settle_credits(session, shop.id, campaign.id) == 4
        assert settle_credits(session, shop.id, campaign.id) == 0  # settled: nothing more moves
    assert _ledger(make, shop.id, campaign.id) == -2

    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Message)
            .where(Message.shop_id == shop.id, Message.id == rows["expired"].id)
            .values(status="delivered", delivered_at=now)
        )
        assert settle_credits(session, shop.id, campaign.id) == -1  # delivered after all: billed
    with Session(make.engine) as session:
        balance = session.scalar(select(Shop.credits).where(Shop.id == shop.id))
    assert balance == _ledger(make, shop.id) == 97


def test_a_campaign_never_reserved_for_is_left_alone(make):
    """Seeded history (no reservation) is not charged by the settlement."""
    shop = make.shop(credits=10)
    campaign = make.campaign(shop, "Imported")
    make.message(
        campaign, make.customer(shop), wamid="w.old", status="delivered", delivered_at=datetime.now(UTC)
    )
    with Session(make.engine) as session, session.begin():
        assert settle_credits(session, shop.id, campaign.id) == 0


def _launch(client, name: str, tags: list[str]) -> int:
    created = client.post(
        "/api/campaigns",
        json={
            "name": name,
            "template": {"name": "weekly_offer", "language": "en"},
            "audience": {"include_tags": tags, "exclude_tags": []},
        },
        headers=bearer(),
    )
    assert created.status_code == 201, created.json
    launched = client.post(f"/api/campaigns/{created.json['id']}/launch", headers=bearer())
    assert launched.status_code == 202, launched.json
    return created.json["id"]


def _one_message(make, campaign_id: int, phone: str) -> Message:
    with Session(make.engine) as session:
        return session.scalars(
            select(Message).where(Message.campaign_id == campaign_id, Message.phone == phone)
        ).one()


def _a_month_ago(make, message: Message) -> None:
    """As if Meta had taken ``message`` a month ago and never said more. The times are moved in
    Python: Citus refuses ``timestamptz - interval`` over a column in an UPDATE."""
    month = timedelta(days=31)
    with Session(make.engine) as session, session.begin():
        times = session.execute(
            select(Message.submitted_at, Message.accepted_at).where(
                Message.shop_id == message.shop_id, Message.id == message.id
            )
        ).one()
        started = session.scalar(
            select(Campaign.dispatch_started_at).where(
                Campaign.shop_id == message.shop_id, Campaign.id == message.campaign_id
            )
        )
        session.execute(
            update(Message)
            .where(Message.shop_id == message.shop_id, Message.id == message.id)
            .values(submitted_at=times.submitted_at - month, accepted_at=times.accepted_at - month)
        )
        session.execute(
            update(Campaign)
            .where(Campaign.shop_id == message.shop_id, Campaign.id == message.campaign_id)
            .values(dispatch_started_at=started - month)
        )


def _balance(make, shop_id: int) -> int:
    with Session(make.engine) as session:
        return session.scalar(select(Shop.credits).where(Shop.id == shop_id))


def test_a_late_delivery_never_takes_the_balance_below_zero_and_records_the_shortfall(
    client, make, meta, run_jobs, runner
):
    """A message whose credit came back when it expired, and went to another campaign, turns out
    delivered after all: the balance stays at zero and equal to the ledger, the credit the
    settlement could not take shows as a shortfall, and a credit the campaign later gets back
    pays that shortfall first."""
    shop = whatsapp_shop(make, credits=0)
    with Session(make.engine) as session, session.begin():
        move_credits(session, shop.id, GRANT, 2)
    for name, phone in (("Ana", "+34612000001"), ("Bea", "+34612000002")):
        make.customer(shop, first_name=name, phone=phone, phone_e164=phone, tags=["autumn"])
    autumn = _launch(client, "Autumn", ["autumn"])
    run_jobs()  # both sent: two credits reserved
    ana, bea = _one_message(make, autumn, "+34612000001"), _one_message(make, autumn, "+34612000002")
    assert ana.wamid and bea.wamid and _balance(make, shop.id) == 0

    _a_month_ago(make, ana)
    assert runner.invoke(args=["monitor"]).exit_code == 0  # Ana's expired: her credit comes back
    assert _balance(make, shop.id) == 1
    make.customer(shop, first_name="Cai", phone="+34612000003", phone_e164="+34612000003", tags=["late"])
    _launch(client, "Late", ["late"])
    run_jobs()  # Cai's message takes the returned credit
    assert _balance(make, shop.id) == 0

    delivered = webhooks.status(ana.wamid, "delivered", 1760000000, recipient_id="34612000001")
    assert (
        webhooks.post(client, webhooks.statuses_body(shop.meta_phone_number_id, delivered)).status_code == 200
    )
    run_jobs()  # the drain: Ana's message is delivered, and billed, after all
    assert runner.invoke(args=["monitor"]).exit_code == 0
    assert _balance(make, shop.id) == 0 == _ledger(make, shop.id)
    answer = client.get("/api/credits", headers=bearer()).json
    assert answer["balance"] == 0
    latest = answer["movements"][0]
    assert (latest["kind"], latest["amount"], latest["shortfall"], latest["campaign_id"]) == (
        "charge",
        0,
        1,
        autumn,
    )
    page = client.get("/settings?" + admin_query(shop.domain, session_token(shop.domain))).get_data(
        as_text=True
    )
    assert re.search(r'<tr data-movement="charge">.*?<span data-shortfall>\(short by 1\)</span>', page, re.S)
    # Settings' ledger: each reservation, return and settlement in words, with its campaign linked.
    rows = re.findall(r'<tr data-movement="(\w+)">(.*?)</tr>', page, re.S)
    assert {kind for kind, _row in rows} == {"grant", "reserve", "return", "charge"}
    words = {"reserve": "Reserved for sending", "return": "Returned", "charge": "Taken back"}
    for kind, row in rows:
        if kind != "grant":
            assert words[kind] in row and re.search(
                r'href="[^"]*/campaigns/\d+[^"]*">(Autumn|Late)</a>', row
            ), row

    failed = webhooks.failed(bea.wamid, 1760000100, 131026, recipient_id="34612000002")
    assert webhooks.post(client, webhooks.statuses_body(shop.meta_phone_number_id, failed)).status_code == 200
    run_jobs()
    assert runner.invoke(args=["monitor"]).exit_code == 0  # Bea's credit pays Ana's shortfall
    assert _balance(make, shop.id) == 0 == _ledger(make, shop.id)
    latest = client.get("/api/credits", headers=bearer()).json["movements"][0]
    assert (latest["kind"], latest["amount"], latest["shortfall"]) == ("return", 0, -1)


def _upgrade(url: str, revision: str) -> None:
    upgraded = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "web", "db", "upgrade", revision],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert upgraded.returncode == 0, upgraded.stderr


# A shop whose last settlement, before the fix, charged three credits it did not have.
_BELOW_ZERO = """
    WITH shop AS (INSERT INTO shops (domain, credits) VALUES ('late.myshopify.com', -3) RETURNING id)
    INSERT INTO credit_movements (shop_id, kind, amount)
    SELECT id, kind, amount
      FROM shop, (VALUES ('grant', 2), ('reserve', -2), ('charge', -3)) AS m(kind, amount)
    RETURNING shop_id
"""


def test_the_migration_brings_a_balance_below_zero_back_to_zero_as_a_shortfall(service_urls):
    """A balance a late delivery took below zero before the fix becomes zero, with a movement
    recording what it lacked as a shortfall, so the balance still equals the ledger; after it,
    the database refuses any balance below zero."""
    with psycopg.connect(libpq_url(service_urls["server_url"]), autocommit=True) as conn:
        if has_citus(conn):  # db upgrade distributes at 0013, whose keys Citus refuses (0023_citus_keys)
            pytest.skip("a migration from before 0023_citus_keys: not on a Citus coordinator")
    with fresh_database(service_urls["server_url"], "test_shortfall", migrated=False) as url:
        _upgrade(url, "0013_failure_counts")
        engine = create_engine(normalise_url(url))
        try:
            with engine.begin() as conn:
                shop = conn.execute(text(_BELOW_ZERO)).scalars().first()
            _upgrade(url, "head")
            with engine.begin() as conn:
                keys = {"shop": shop}
                balance = conn.execute(text("SELECT credits FROM shops WHERE id = :shop"), keys).scalar()
                ledger = conn.execute(
                    text("SELECT sum(amount), sum(shortfall) FROM credit_movements WHERE shop_id = :shop"),
                    {"shop": shop},
                ).one()
            assert (balance, tuple(ledger)) == (0, (0, 3))
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(text("UPDATE shops SET credits = credits - 1 WHERE id = :shop"), {"shop": shop})
        finally:
            engine.dispose()
