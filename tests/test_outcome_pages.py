"""The campaign page's orders, revenue and cost, the days after sending, and the trends page's
comparison by campaign type, as HTML documents."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from core.models import Order
from tests.browser import admin_query
from tests.tokens import bearer, session_token

SHOP = "demo.myshopify.com"


def _page(client, path: str) -> str:
    html = client.get(f"{path}?" + admin_query(SHOP, session_token(SHOP))).get_data(as_text=True)
    return re.sub(r"\s+", " ", html)


@pytest.fixture
def sold(make):
    """A settled promotional campaign: 3 of 4 messages delivered to Spanish numbers (billed),
    one clicked, and one order of €59.90 the day after sending."""
    shop = make.shop(SHOP, currency="USD")
    sent = datetime.now(UTC) - timedelta(days=3)
    campaign = make.campaign(shop, "Winter sale", status="PARTIALLY_SENT", dispatch_started_at=sent)
    buyer = None
    for n in range(4):
        customer = make.customer(shop, shopify_customer_id=600 + n)
        delivered = sent + timedelta(minutes=5) if n < 3 else None
        status = "delivered" if delivered else "failed"
        make.message(
            campaign,
            customer,
            wamid=f"w.{n}",
            status=status,
            phone=f"+3461234567{n}",
            delivered_at=delivered,
            pricing_category="marketing",
            pricing_billable=True,
            pricing_type="regular",
        )
        buyer = buyer or customer
    make.recount(campaign)
    with Session(make.engine) as session, session.begin():
        session.add(
            Order(
                shop_id=shop.id,
                shopify_order_id=1,
                shopify_customer_id=buyer.shopify_customer_id,
                total=Decimal("59.90"),
                currency="USD",
                ordered_at=sent + timedelta(days=1, hours=1),
            )
        )
    return campaign


def test_the_campaign_page_shows_orders_revenue_cost_and_the_days_after(client, sold):
    """Orders, revenue, conversion (1 of 3 delivered), cost (3 × Meta's Spanish marketing rate),
    return on spend, and the order on day 1 of the chart's table."""
    html = _page(client, f"/campaigns/{sold.id}")
    assert 'data-outcome="orders">1<' in html
    assert 'data-outcome="revenue">$59.90<' in html
    assert 'data-outcome="conversion_rate">33.3%<' in html
    # Totals in the currency's own decimals (3 × $0.0615 = $0.1845); per-message prices keep four.
    assert 'data-outcome="cost">$0.18<' in html
    assert 'data-outcome="return_on_spend">324.66×<' in html
    assert 'data-outcome="cost_per_delivered">$0.0615<' in html
    assert 'data-outcome="gross_revenue">$59.90<' in html  # no refund: the same as revenue
    assert 'data-outcome="cost_per_order">$0.1845<' in html
    assert 'data-outcome="cost_per_click">not tracked<' in html
    assert '<g data-day="1">' in html and "Day 1: 0 clicks, 1 orders." in html


def test_the_trends_page_compares_outcomes_by_campaign_type(client, sold):
    """The promotional row carries the period's orders and revenue."""
    html = _page(client, "/trends")
    row = html.split('data-outcome-type="PROMOTIONAL"')[1].split("</tr>")[0]
    assert "data-orders>1<" in row and "data-revenue>$59.90<" in row


def test_the_trends_page_and_api_show_cost_revenue_and_return_over_time(client, sold):
    """The campaign's send day and type carry its revenue, cost and return on spend, on the page
    and in GET /api/trends (days in the shop's zone)."""
    html = _page(client, "/trends")
    day = sold.dispatch_started_at.date().isoformat()  # the shop's zone is UTC here
    row = html.split(f'data-money-point="{day}:PROMOTIONAL"')[1].split("</tr>")[0]
    assert "data-revenue>$59.90<" in row and "data-cost>$0.18<" in row
    body = client.get("/api/trends", headers=bearer(SHOP)).json
    (point,) = body["outcome_series"]
    assert (point["date"], point["type"], point["orders"]) == (day, "PROMOTIONAL", 1)
    assert point["revenue"] == {"amount": "59.90", "currency": "USD"}
    assert point["cost"] == {"amount": "0.1845", "currency": "USD"}
    assert point["return_on_spend"] == round(59.90 / 0.1845, 4)
