"""Orders and refunds from Shopify (webhooks and the install-time import), stored for
attribution (core/outcomes/attribution.py).

Shopify's REST order body (the webhooks' shape): ``id``, ``customer.id``, ``total_price`` (a
decimal string in the shop's currency), ``currency``, ``created_at``, ``updated_at``,
``cancelled_at`` and ``refunds`` [{``id``, ``created_at``, ``transactions`` [{``kind``,
``status``, ``amount``}]}]; ``refunds/create`` carries one such refund with its ``order_id``.
Deliveries are unordered and repeated, so an order is written only when its ``updated_at`` is
not older than ours, and a refund is one row by its id whichever topic brought it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, or_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.models import Order, OrderRefund, Shop
from core.shopify.shapes import BadPayload, parse_time


@dataclass(frozen=True)
class OrderRecord:
    shopify_order_id: int
    shopify_customer_id: int | None
    total: Decimal
    currency: str
    ordered_at: datetime
    cancelled_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True)
class RefundRecord:
    shopify_refund_id: int
    shopify_order_id: int
    amount: Decimal
    refunded_at: datetime


def _id(value: object, what: str) -> int:
    tail = str(value if value is not None else "").rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise BadPayload(f"not an {what} id: {value!r}")
    return int(tail)


def _money(value: object, what: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise BadPayload(f"{what} is not an amount: {value!r}") from None
    if not amount.is_finite():
        raise BadPayload(f"{what} is not an amount: {value!r}")
    return amount


def order_from_rest(body: dict) -> OrderRecord:
    """Read an order webhook body. Raises BadPayload for what is not an order."""
    ordered_at = parse_time(body.get("created_at"))
    currency = body.get("currency")
    if ordered_at is None or not isinstance(currency, str) or len(currency) != 3:
        raise BadPayload("an order needs created_at and a three-letter currency")
    customer = body.get("customer")
    return OrderRecord(
        shopify_order_id=_id(body.get("id"), "order"),
        shopify_customer_id=_id(customer.get("id"), "customer") if isinstance(customer, dict) else None,
        total=_money(body.get("total_price"), "total_price"),
        currency=currency.upper(),
        ordered_at=ordered_at,
        cancelled_at=parse_time(body.get("cancelled_at")),
        updated_at=parse_time(body.get("updated_at")),
    )


def refund_from_rest(body: dict, order_id: int | None = None) -> RefundRecord:
    """Read one refund: the money of its successful refund transactions."""
    transactions = body.get("transactions") or []
    if not isinstance(transactions, list):
        raise BadPayload("refund transactions must be a list")
    amount = sum(
        (
            _money(t.get("amount"), "refund amount")
            for t in transactions
            if isinstance(t, dict) and t.get("kind") == "refund" and t.get("status") in ("success", None)
        ),
        Decimal(0),
    )
    return RefundRecord(
        shopify_refund_id=_id(body.get("id"), "refund"),
        shopify_order_id=order_id if order_id is not None else _id(body.get("order_id"), "order"),
        amount=amount,
        refunded_at=parse_time(body.get("created_at"))
        or parse_time(body.get("processed_at"))
        or datetime.now().astimezone(),
    )


def save_order(session: Session, shop_id: int, order: OrderRecord) -> bool:
    """Insert or update the order unless what we hold is newer; answer whether it was written."""
    values = {
        "shop_id": shop_id,
        "shopify_order_id": order.shopify_order_id,
        "shopify_customer_id": order.shopify_customer_id,
        "total": order.total,
        "currency": order.currency,
        "ordered_at": order.ordered_at,
        "cancelled_at": order.cancelled_at,
        "shopify_updated_at": order.updated_at,
    }
    table = Order.__table__
    statement = insert(table).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.shop_id, table.c.shopify_order_id],
        set_={k: statement.excluded[k] for k in values if k not in ("shop_id", "shopify_order_id")},
        where=or_(
            table.c.shopify_updated_at.is_(None),
            statement.excluded.shopify_updated_at.is_(None),
            table.c.shopify_updated_at <= statement.excluded.shopify_updated_at,
        ),
    ).returning(table.c.shopify_order_id)
    return session.execute(statement).first() is not None


def save_refunds(session: Session, shop_id: int, refunds: list[RefundRecord]) -> int:
    """Store refunds not seen before (by id); answer how many were new."""
    if not refunds:
        return 0
    rows = [
        {
            "shop_id": shop_id,
            "shopify_refund_id": r.shopify_refund_id,
            "shopify_order_id": r.shopify_order_id,
            "amount": r.amount,
            "refunded_at": r.refunded_at,
        }
        for r in refunds
    ]
    statement = (
        insert(OrderRefund.__table__)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(OrderRefund.__table__.c.shopify_refund_id)
    )
    return len(session.execute(statement).all())


def touch_orders(session: Session, shop_id: int) -> None:
    """Mark the shop's orders as changed (the cached outcomes follow)."""
    session.execute(update(Shop).where(Shop.id == shop_id).values(orders_changed_at=func.clock_timestamp()))


def order_changed(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
    """``orders/create``, ``orders/updated``, ``orders/cancelled``, ``orders/paid``."""
    order = order_from_rest(body)
    refunds = body.get("refunds") or []
    if not isinstance(refunds, list):
        raise BadPayload("refunds must be a list")
    written = save_order(session, shop.id, order)
    new_refunds = save_refunds(
        session,
        shop.id,
        [refund_from_rest(r, order.shopify_order_id) for r in refunds if isinstance(r, dict)],
    )
    if written or new_refunds:
        touch_orders(session, shop.id)
        return "applied"
    return "stale"


def refund_created(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
    """``refunds/create``: one refund of an order (which may not have reached us yet)."""
    if save_refunds(session, shop.id, [refund_from_rest(body)]):
        touch_orders(session, shop.id)
        return "applied"
    return "stale"


ORDER_HANDLERS = {
    "orders/create": order_changed,
    "orders/updated": order_changed,
    "orders/cancelled": order_changed,
    "refunds/create": refund_created,
}
