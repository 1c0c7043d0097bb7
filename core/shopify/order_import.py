"""The install-time import of the shop's recent orders (the last 60 days), so campaigns sent
before the app saw any order webhook still get their revenue.

Paged through the Admin API's ``orders`` connection, oldest first, each page written with the
webhooks' own rules (core/shopify/orders.py: an order newer in our table is kept, a refund is
one row by id). Shopify runs one bulk query operation per shop at a time and the customer
import may be using it, so this import pages instead; at 50 orders a page it is a few hundred
requests for a busy shop, paced by the Admin client's throttle handling.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from core.db import session_scope
from core.rules.order_states import financial_status
from core.shopify.admin import AdminClient
from core.shopify.orders import OrderRecord, RefundRecord, save_order, save_refunds, touch_orders
from core.shopify.queries import ORDERS_PAGE
from core.shopify.shapes import BadPayload, parse_time

IMPORT_DAYS = 60
PAGE_SIZE = 50


def _gid(value: object, what: str) -> int:
    tail = str(value or "").rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise BadPayload(f"not an {what} id: {value!r}")
    return int(tail)


def _shop_money(money_set: dict | None) -> dict:
    return (money_set or {}).get("shopMoney") or {}


def _money(money_set: dict | None) -> Decimal:
    return Decimal(str(_shop_money(money_set).get("amount") or "0"))


def _presentment(money_set: dict | None) -> tuple[Decimal | None, str | None]:
    """The total as the customer paid it (``presentmentMoney``); (None, None) when not given."""
    money = (money_set or {}).get("presentmentMoney") or {}
    if not money.get("currencyCode") or money.get("amount") is None:
        return None, None
    return Decimal(str(money["amount"])), str(money["currencyCode"])


def order_from_graphql(node: dict) -> tuple[OrderRecord, list[RefundRecord]]:
    """Read one ``orders`` node (Shopify's 2026-10 Order) into what the webhooks store."""
    order_id = _gid(node.get("id"), "order")
    ordered_at = parse_time(node.get("createdAt"))
    if ordered_at is None:
        raise BadPayload("an order needs createdAt")
    customer = node.get("customer") or {}
    presentment_total, presentment_currency = _presentment(node.get("totalPriceSet"))
    order = OrderRecord(
        shopify_order_id=order_id,
        shopify_customer_id=_gid(customer["id"], "customer") if customer.get("id") else None,
        total=_money(node.get("totalPriceSet")),
        # The shop money's own currency; the order's currencyCode is the shop's too.
        currency=str(
            _shop_money(node.get("totalPriceSet")).get("currencyCode") or node.get("currencyCode") or "USD"
        ),
        ordered_at=ordered_at,
        cancelled_at=parse_time(node.get("cancelledAt")),
        updated_at=parse_time(node.get("updatedAt")),
        test=node.get("test") is True,
        financial_status=financial_status(node.get("displayFinancialStatus")),
        presentment_total=presentment_total,
        presentment_currency=presentment_currency,
    )
    refunds = [
        RefundRecord(
            _gid(r.get("id"), "refund"),
            order_id,
            _money(r.get("totalRefundedSet")),
            parse_time(r.get("createdAt")) or ordered_at,
        )
        for r in node.get("refunds") or []
    ]
    return order, refunds


def import_recent_orders(
    shop_id: int, days: int = IMPORT_DAYS, now: datetime | None = None
) -> dict[str, int]:
    """Import every order of the last ``days`` days; answer how many were read and written."""
    since = (now or datetime.now(UTC)) - timedelta(days=days)
    variables = {"first": PAGE_SIZE, "after": None, "query": f"created_at:>='{since.isoformat()}'"}
    read = written = 0
    with AdminClient(shop_id) as client:
        while True:
            connection = client.query(ORDERS_PAGE, variables)["orders"]
            with session_scope() as session:
                for node in connection["nodes"]:
                    order, refunds = order_from_graphql(node)
                    written += save_order(session, shop_id, order)
                    save_refunds(session, shop_id, refunds)
                touch_orders(session, shop_id)
            read += len(connection["nodes"])
            if not connection["pageInfo"]["hasNextPage"]:
                return {"orders": read, "written": written}
            variables["after"] = connection["pageInfo"]["endCursor"]
