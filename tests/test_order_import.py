"""The install-time import of the last 60 days of orders from the Shopify stand-in (the
published schema's ``orders`` connection), written with the webhooks' rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Order, OrderRefund
from jobs.orders import request_order_import
from tests.orders import iso
from tests.shopify_stand_in import installed_shop

SHOP = "demo.myshopify.com"


def test_recent_orders_and_their_refunds_are_imported_once(shopify, make, run_jobs):
    """Orders of the last 60 days arrive (older ones do not), over several pages, with their
    refunds; running the import again changes nothing."""
    now = datetime.now(UTC).replace(microsecond=0)
    recent = [now - timedelta(hours=11 * n + 1) for n in range(130)]  # within 60 days: 3 pages
    old = [now - timedelta(days=61 + n) for n in range(5)]
    orders = [
        {"id": 3000 + n, "customer_id": 501, "total": "10.00", "currency": "EUR", "created_at": iso(at)}
        for n, at in enumerate(recent + old)
    ]
    orders[1]["refunds"] = [{"id": 91, "amount": "4.00", "created_at": iso(now)}]
    orders[2]["cancelled_at"] = iso(now)
    shopify.http.put(f"{shopify.url}/sim/shops/{SHOP}/orders", json=orders, timeout=10).raise_for_status()
    shop = installed_shop(make, shopify, SHOP)
    for _ in range(2):
        assert request_order_import(shop.id)
        run_jobs()
        with Session(make.engine) as session:
            stored = {o.shopify_order_id: o for o in session.scalars(select(Order))}
            refunds = session.scalars(select(OrderRefund)).all()
        assert set(stored) == {3000 + n for n in range(130)}
        assert stored[3001].currency == "EUR" and str(stored[3001].total) == "10.00"
        assert stored[3001].shopify_customer_id == 501
        assert stored[3002].cancelled_at is not None
        assert [(r.shopify_refund_id, r.shopify_order_id, str(r.amount)) for r in refunds] == [
            (91, 3001, "4.00")
        ]
