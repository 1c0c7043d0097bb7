"""What a campaign's revenue counts, bound to the order and refund bodies Shopify publishes
(tests/fixtures/shopify/webhook-examples/2026-04): only real, paid orders; test, unpaid, voided
and cancelled ones are left out and the report says so; refunds are netted in the shop's
currency; ``orders/updated`` moves an order in and out as its payment changes; the install-time
import reads the same facts through the published Admin schema."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Order, OrderRefund
from jobs.orders import request_order_import
from jobs.shopify import drain_shopify_inbox
from tests import shopify_webhooks
from tests.browser import admin_query
from tests.orders import iso
from tests.shopify_examples import example_body
from tests.shopify_stand_in import installed_shop
from tests.tokens import bearer, session_token

# Also on the Citus cluster (make citus-test): order and refund webhooks and the import write
# through the shop's row, a reference table there.
pytestmark = pytest.mark.citus

SHOP = "demo.myshopify.com"
PUBLISHED = example_body("orders/create")
BUYER = PUBLISHED["customer"]["id"]
ORDER = PUBLISHED["id"]
ORDERED_AT = datetime.fromisoformat(PUBLISHED["created_at"])
# What the published order lacks to be a real, paid order that is still open.
REAL_AND_PAID = {"test": False, "financial_status": "paid", "cancelled_at": None, "cancel_reason": None}
NOTHING_LEFT_OUT = {"test": 0, "unpaid": 0, "voided": 0, "cancelled": 0}


@pytest.fixture
def campaign(make):
    """The published order's customer got "Spring" the day before the published order."""
    shop = make.shop(SHOP, currency="USD")
    buyer = make.customer(shop, shopify_customer_id=BUYER)
    spring = make.campaign(shop, "Spring")
    delivered = ORDERED_AT - timedelta(days=1)
    make.message(spring, buyer, wamid="w.spring", status="delivered", delivered_at=delivered)
    make.recount(spring)
    return spring


def _order(order_id: int = ORDER, **changes) -> dict:
    """Shopify's published ``orders/create`` body, with only the named fields changed."""
    return example_body("orders/create") | {"id": order_id} | changes


def _deliver(client, topic: str, body: dict) -> None:
    assert shopify_webhooks.post(client, topic, body).status_code == 200
    drain_shopify_inbox()


def _report(client, campaign) -> dict:
    body = client.get(f"/api/campaigns/{campaign.id}", headers=bearer()).json
    return {
        "orders": body["metrics"]["orders"],
        "revenue": body["revenue"],
        "left_out": body.get("orders_left_out"),
    }


def _usd(amount: str) -> dict:
    return {"amount": amount, "currency": "USD"}


def test_only_real_paid_orders_count_and_the_report_says_which_were_left_out(client, campaign):
    """Of eight orders by the campaign's customer only the paid and the partially paid one
    count; the test orders (the published body among them), the pending and the authorized
    (unpaid), the voided and the cancelled one are left out, and the report counts each kind."""
    orders = [
        REAL_AND_PAID,
        REAL_AND_PAID | {"financial_status": "partially_paid"},
        REAL_AND_PAID | {"test": True},
        REAL_AND_PAID | {"financial_status": "pending"},
        REAL_AND_PAID | {"financial_status": "authorized"},
        REAL_AND_PAID | {"financial_status": "voided"},
        REAL_AND_PAID | {"cancelled_at": PUBLISHED["created_at"], "cancel_reason": "customer"},
        {},  # the published body as it is: a test order, voided and cancelled
    ]
    for n, changes in enumerate(orders):
        _deliver(client, "orders/create", _order(ORDER + n, **changes))
    assert _report(client, campaign) == {
        "orders": 2,
        "revenue": _usd("809.90"),  # 2 × the published total_price_set.shop_money
        "left_out": {"test": 2, "unpaid": 2, "voided": 1, "cancelled": 1},
    }


def test_the_campaign_page_says_what_revenue_counts_and_what_it_left_out(client, campaign):
    """The outcomes section names what revenue counts and how many orders it left out, and why."""
    _deliver(client, "orders/create", _order(**REAL_AND_PAID))
    _deliver(client, "orders/create", _order(ORDER + 1))  # the published test order
    html = client.get(f"/campaigns/{campaign.id}?" + admin_query(SHOP, session_token(SHOP))).get_data(
        as_text=True
    )
    line = re.sub(r"\s+", " ", re.search(r'data-outcome="counted">(.*?)</p>', html, re.S).group(1))
    assert "paid orders" in line and "less refunds" in line and "shop's currency" in line
    assert "Left out: 1 test order." in line


def test_orders_updated_moves_an_order_in_when_paid_and_out_when_voided_or_cancelled(client, campaign):
    """An order awaiting payment counts once ``orders/updated`` says it is paid; an authorized
    order that is then voided, and a paid one that is then cancelled, leave; a stale update from
    before the cancellation cannot bring that one back."""
    later = [iso(ORDERED_AT + timedelta(hours=h)) for h in range(4)]
    _deliver(client, "orders/create", _order(**REAL_AND_PAID | {"financial_status": "pending"}))
    assert _report(client, campaign) == {
        "orders": 0,
        "revenue": None,
        "left_out": NOTHING_LEFT_OUT | {"unpaid": 1},
    }
    _deliver(client, "orders/updated", _order(**REAL_AND_PAID | {"updated_at": later[1]}))
    assert _report(client, campaign) == {"orders": 1, "revenue": _usd("404.95"), "left_out": NOTHING_LEFT_OUT}

    authorized = REAL_AND_PAID | {"financial_status": "authorized"}
    _deliver(client, "orders/create", _order(ORDER + 1, **authorized))
    _deliver(
        client,
        "orders/updated",
        _order(ORDER + 1, **authorized | {"financial_status": "voided", "updated_at": later[1]}),
    )
    cancelled = REAL_AND_PAID | {
        "cancelled_at": later[2],
        "cancel_reason": "customer",
        "updated_at": later[2],
    }
    _deliver(client, "orders/cancelled", _order(**cancelled))
    # A stale update (from before the cancellation) cannot bring that order back.
    _deliver(client, "orders/updated", _order(**REAL_AND_PAID | {"updated_at": later[0]}))
    assert _report(client, campaign) == {
        "orders": 0,
        "revenue": None,
        "left_out": NOTHING_LEFT_OUT | {"voided": 1, "cancelled": 1},
    }


def _in_presentment(refund: dict, currency: str, rate: int) -> dict:
    """The published refund as one of an order paid in ``currency``: every presentment amount
    is ``rate`` times the shop's, and the transactions are in that currency."""

    def convert(value):
        if isinstance(value, dict):
            if "presentment_money" in value and "shop_money" in value:
                shop = value["shop_money"]
                amount = f"{float(shop['amount']) * rate:.2f}"
                value["presentment_money"] = {"amount": amount, "currency_code": currency}
            for inner in value.values():
                convert(inner)
        elif isinstance(value, list):
            for inner in value:
                convert(inner)

    convert(refund)
    for transaction in refund["transactions"]:
        transaction["currency"] = currency
    return refund


def test_refunds_are_netted_in_the_shops_currency(client, campaign, make):
    """The published refund (transactions of 75.00 and 10.00) lowers the published order's
    revenue by 85.00 USD; for an order paid in Canadian dollars at two CAD to the dollar, the
    same refund in CAD lowers it by 42.50 USD, whichever topic brings it, and only once."""
    _deliver(client, "orders/create", _order(**REAL_AND_PAID))
    _deliver(client, "refunds/create", example_body("refunds/create"))
    assert _report(client, campaign)["revenue"] == _usd("319.95")

    second = ORDER + 1
    _deliver(client, "orders/create", _order(second, **REAL_AND_PAID | {"presentment_currency": "CAD"}))
    refund = _in_presentment(example_body("refunds/create"), "CAD", 2) | {"id": 7001, "order_id": second}
    _deliver(client, "refunds/create", refund)
    updated = REAL_AND_PAID | {
        "presentment_currency": "CAD",
        "updated_at": iso(ORDERED_AT + timedelta(hours=1)),
    }
    _deliver(client, "orders/updated", _order(second, **updated | {"refunds": [refund]}))
    with Session(make.engine) as session:
        stored = dict(session.execute(select(OrderRefund.shopify_order_id, OrderRefund.amount)).all())
    assert {order: str(amount) for order, amount in stored.items()} == {ORDER: "85.00", second: "42.50"}
    assert _report(client, campaign)["revenue"] == _usd("682.40")  # 319.95 + (404.95 - 42.50)


def test_what_customers_paid_in_is_kept_for_display_and_never_counted_as_revenue(client, campaign, make):
    """An order a customer paid in euros keeps its presentment total beside the shop-money one:
    revenue stays in the shop's dollars, the report lists what was paid per currency, and the
    campaign page shows the euros as a reference row."""
    _deliver(client, "orders/create", _order(**REAL_AND_PAID))
    in_euros = {
        "shop_money": {"amount": "404.95", "currency_code": "USD"},
        "presentment_money": {"amount": "372.60", "currency_code": "EUR"},
    }
    euro_order = REAL_AND_PAID | {"presentment_currency": "EUR", "total_price_set": in_euros}
    _deliver(client, "orders/create", _order(ORDER + 1, **euro_order))
    with Session(make.engine) as session:
        kept = {
            o.shopify_order_id: (str(o.total), o.currency, str(o.presentment_total), o.presentment_currency)
            for o in session.scalars(select(Order))
        }
    assert kept == {
        ORDER: ("404.95", "USD", "404.95", "USD"),
        ORDER + 1: ("404.95", "USD", "372.60", "EUR"),
    }
    body = client.get(f"/api/campaigns/{campaign.id}", headers=bearer()).json
    assert body["revenue"] == _usd("809.90")
    assert body["paid_in"] == [_usd("404.95"), {"amount": "372.60", "currency": "EUR"}]
    html = client.get(f"/campaigns/{campaign.id}?" + admin_query(SHOP, session_token(SHOP))).get_data(
        as_text=True
    )
    assert 'data-paid-in="EUR">€372.60<' in html and 'data-paid-in="USD">$404.95<' in html


def test_a_shop_whose_customers_all_pay_in_its_currency_shows_no_paid_in_row(client, campaign):
    _deliver(client, "orders/create", _order(**REAL_AND_PAID))
    html = client.get(f"/campaigns/{campaign.id}?" + admin_query(SHOP, session_token(SHOP))).get_data(
        as_text=True
    )
    assert 'data-outcome="gross_revenue">$404.95<' in html and 'data-outcome="paid_in"' not in html


def test_the_import_keeps_test_and_payment_state_and_reads_shop_money(shopify, make, run_jobs, client):
    """Orders imported through the published schema keep ``test`` and the financial status, so
    the report leaves out the same orders the webhooks would; amounts are the shop's money."""
    now = datetime.now(UTC).replace(microsecond=0)
    entries = [
        {"id": 4001, "financial_status": "PAID", "presentment": {"total": "9.20", "currency": "EUR"}},
        {"id": 4002, "financial_status": "PARTIALLY_REFUNDED", "refunds": [{"id": 95, "amount": "4.00"}]},
        {"id": 4003, "financial_status": "PAID", "test": True},
        {"id": 4004, "financial_status": "PENDING"},
        {"id": 4005, "financial_status": "VOIDED"},
        {"id": 4006, "financial_status": "REFUNDED", "cancelled_at": iso(now)},
    ]
    for entry in entries:
        entry |= {
            "customer_id": 501,
            "total": "10.00",
            "currency": "USD",
            "created_at": iso(now - timedelta(hours=1)),
        }
        for refund in entry.get("refunds", []):
            refund["created_at"] = iso(now)
    shopify.http.put(f"{shopify.url}/sim/shops/{SHOP}/orders", json=entries, timeout=10).raise_for_status()
    shop = installed_shop(make, shopify, SHOP, currency="USD")
    buyer = make.customer(shop, shopify_customer_id=501)
    spring = make.campaign(shop, "Spring")
    make.message(spring, buyer, wamid="w.import", status="delivered", delivered_at=now - timedelta(days=1))
    make.recount(spring)
    assert request_order_import(shop.id)
    run_jobs()
    with Session(make.engine) as session:
        orders = session.scalars(select(Order)).all()
    stored = {o.shopify_order_id: (o.test, o.financial_status) for o in orders}
    paid_in = {o.shopify_order_id: (str(o.presentment_total), o.presentment_currency) for o in orders}
    assert paid_in[4001] == ("9.20", "EUR") and paid_in[4002] == ("10.00", "USD")
    assert stored == {
        4001: (False, "paid"),
        4002: (False, "partially_refunded"),
        4003: (True, "paid"),
        4004: (False, "pending"),
        4005: (False, "voided"),
        4006: (False, "refunded"),
    }
    assert _report(client, spring) == {
        "orders": 2,
        "revenue": _usd("16.00"),
        "left_out": {"test": 1, "unpaid": 1, "voided": 1, "cancelled": 1},
    }
