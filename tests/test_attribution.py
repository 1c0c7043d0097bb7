"""Revenue attribution: orders from Shopify's webhooks count for the campaign that last
reached the customer inside the shop's window; refunds lower revenue, cancellations leave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from jobs.shopify import drain_shopify_inbox
from tests import shopify_webhooks
from tests.orders import order_body, refund_body
from tests.tokens import bearer

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def world(make):
    """Ana got "Old" 5 days ago and "New" 2 days ago (both delivered); Bo got "Old" 10 days
    ago; Cy was never messaged."""
    shop = make.shop(currency="EUR")
    ana, bo, _cy = (make.customer(shop, shopify_customer_id=n) for n in (501, 502, 503))
    old, new = make.campaign(shop, "Old"), make.campaign(shop, "New")
    make.message(old, ana, wamid="w.old.ana", status="delivered", delivered_at=NOW - timedelta(days=5))
    make.message(
        old,
        bo,
        wamid="w.old.bo",
        status="read",
        delivered_at=NOW - timedelta(days=10),
        read_at=NOW - timedelta(days=10),
    )
    make.message(new, ana, wamid="w.new.ana", status="delivered", delivered_at=NOW - timedelta(days=2))
    for campaign in (old, new):
        make.recount(campaign)
    return {"shop": shop, "old": old, "new": new}


def _deliver(client, topic: str, body: dict) -> None:
    assert shopify_webhooks.post(client, topic, body).status_code == 200
    drain_shopify_inbox()


def _outcome(client, campaign) -> tuple[int, dict | None]:
    body = client.get(f"/api/campaigns/{campaign.id}", headers=bearer()).json
    return body["metrics"]["orders"], body["revenue"]


def test_an_order_inside_the_window_counts_for_the_latest_campaign_only(client, world):
    """Ana's order counts once, with its revenue, for the campaign that reached her last."""
    _deliver(client, "orders/create", order_body(9001, 501, "59.90", NOW))
    assert _outcome(client, world["new"]) == (1, {"amount": "59.90", "currency": "EUR"})
    assert _outcome(client, world["old"]) == (0, None)
    _deliver(client, "orders/create", order_body(9001, 501, "59.90", NOW))  # redelivered
    assert _outcome(client, world["new"]) == (1, {"amount": "59.90", "currency": "EUR"})


def test_outside_the_window_or_never_messaged_adds_nothing(client, world):
    """Bo's message is 10 days old (window 7) and Cy was never messaged: no campaign gains."""
    _deliver(client, "orders/create", order_body(9002, 502, "20.00", NOW))
    _deliver(client, "orders/create", order_body(9003, 503, "30.00", NOW))
    _deliver(client, "orders/create", order_body(9004, None, "40.00", NOW))  # a guest checkout
    assert _outcome(client, world["old"]) == (0, None)
    assert _outcome(client, world["new"]) == (0, None)


def test_a_longer_window_reaches_further_back(client, make, world):
    """The window is the shop's setting: at 14 days Bo's order counts for "Old"."""
    from sqlalchemy import update
    from sqlalchemy.orm import Session

    from core.models import Shop

    with Session(make.engine) as session, session.begin():
        session.execute(update(Shop).where(Shop.id == world["shop"].id).values(attribution_window_days=14))
    _deliver(client, "orders/create", order_body(9002, 502, "20.00", NOW))
    assert _outcome(client, world["old"]) == (1, {"amount": "20.00", "currency": "EUR"})


def test_a_refund_lowers_revenue_and_a_cancellation_removes_the_order(client, world):
    """A refund (by refunds/create, then again inside orders/updated) lowers revenue once; a
    cancelled order leaves the campaign."""
    _deliver(client, "orders/create", order_body(9001, 501, "59.90", NOW))
    refund = refund_body(77, 9001, "19.90", NOW + timedelta(hours=1))
    _deliver(client, "refunds/create", refund)
    assert _outcome(client, world["new"]) == (1, {"amount": "40.00", "currency": "EUR"})
    # The page shows the order as placed beside it: revenue is that less the refund.
    body = client.get(f"/api/campaigns/{world['new'].id}", headers=bearer()).json
    assert body["gross_revenue"] == {"amount": "59.90", "currency": "EUR"}
    later = NOW + timedelta(hours=2)
    _deliver(
        client, "orders/updated", order_body(9001, 501, "59.90", NOW, updated_at=later, refunds=[refund])
    )
    assert _outcome(client, world["new"]) == (1, {"amount": "40.00", "currency": "EUR"})
    cancelled = order_body(9001, 501, "59.90", NOW, updated_at=later + timedelta(hours=1), cancelled_at=later)
    _deliver(client, "orders/cancelled", cancelled)
    assert _outcome(client, world["new"]) == (0, None)
    # A stale update from before the cancellation cannot bring the order back.
    _deliver(client, "orders/updated", order_body(9001, 501, "59.90", NOW, updated_at=later))
    assert _outcome(client, world["new"]) == (0, None)


def test_customers_redact_erases_phone_fixes_and_unlinks_orders(client, make, world):
    """A redacted customer's phone fix (which holds numbers) is erased and their orders stay
    for the shop's revenue but belong to nobody, so no campaign counts them any more."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from core.models import Customer, Order, PhoneFix

    _deliver(client, "orders/create", order_body(9001, 501, "59.90", NOW))
    with Session(make.engine) as session, session.begin():
        ana = session.scalar(select(Customer).where(Customer.shopify_customer_id == 501))
        session.add(
            PhoneFix(
                shop_id=ana.shop_id,
                campaign_id=world["new"].id,
                customer_id=ana.id,
                error_code="CUSTOMER_IS_MISSING_CALLING_CODE",
                old_phone="612 34 56 79",
                suggested_phone="+34612345679",
            )
        )
    _deliver(client, "customers/redact", {"shop_domain": "demo.myshopify.com", "customer": {"id": 501}})
    with Session(make.engine) as session:
        assert session.scalars(select(PhoneFix)).all() == []
        assert session.scalar(select(Order.shopify_customer_id)) is None
    assert _outcome(client, world["new"]) == (0, None)
