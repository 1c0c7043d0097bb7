"""The credit ledger: reservations kept for billed and in-flight messages, everything else
returned by the settlement, a late delivery taken back, and the balance equal to the ledger."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.models import CreditMovement, Message, Shop
from core.outcomes.credits import GRANT, RESERVE, move_credits, settle_credits

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
