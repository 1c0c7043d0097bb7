"""Orders and refunds from Shopify (webhooks and the install-time import), stored for
attribution (core/outcomes/attribution.py).

Shopify's REST order body (the webhooks' shape, as Shopify publishes it:
tests/fixtures/shopify/webhook-examples/2026-04): ``id``, ``customer.id``, ``test``,
``financial_status``, ``total_price_set.shop_money`` (the total in the shop's currency; the
older ``total_price`` and ``currency`` say the same), ``created_at``, ``updated_at``,
``cancelled_at`` and ``refunds``; ``refunds/create`` carries one refund with its ``order_id``.
Whether an order counts is decided when read (core/rules/order_states.py), so every update
(paid later, voided, cancelled) is kept. Deliveries are unordered and repeated, so an order is
written only when its ``updated_at`` is not older than ours, and a refund is one row by its id
whichever topic brought it.

A refund is the money of its successful ``refund`` transactions. Those are in the currency the
customer paid in (``presentment_money``), and Shopify's body gives no shop-money figure for them;
every other amount of the refund (line items, shipping, adjustments, duties) is a ``*_set``
with both ``shop_money`` and ``presentment_money``. So the transactions are converted to the
shop's currency at the refund's own rate: one when both are the same currency, otherwise the
ratio of its shop to its presentment amounts (or, for a refund inside an order body, the order
total's); a refund with no such amount that names no currency but the shop's is in the shop's.
A refund nothing converts is refused (``bad_payload``): the ``orders/updated`` Shopify sends
for the same refund carries the order's total and brings it. The import reads Shopify's
``totalRefundedSet.shopMoney`` directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import or_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.models import Order, OrderRefund, Shop
from core.rules.order_states import financial_status
from core.shopify.shapes import BadPayload, parse_time

CENT = Decimal("0.01")


@dataclass(frozen=True)
class OrderRecord:
    shopify_order_id: int
    shopify_customer_id: int | None
    total: Decimal
    currency: str
    ordered_at: datetime
    cancelled_at: datetime | None
    updated_at: datetime | None
    test: bool
    financial_status: str  # core/rules/order_states.py's spelling
    # The total as the customer paid it (Shopify's presentment money), for display; None when
    # the body does not say.
    presentment_total: Decimal | None = None
    presentment_currency: str | None = None


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


def _shop_total(body: dict) -> tuple[Decimal, str]:
    """The order's total in the shop's currency: ``total_price_set.shop_money``, or the older
    ``total_price`` and ``currency`` (the shop's currency too)."""
    shop_money = _object(_object(body.get("total_price_set")).get("shop_money"))
    amount = shop_money.get("amount", body.get("total_price"))
    currency = shop_money.get("currency_code") or body.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        raise BadPayload("an order needs a three-letter shop currency")
    return _money(amount, "total_price"), currency.upper()


def _presentment_total(body: dict, total: Decimal, currency: str) -> tuple[Decimal | None, str | None]:
    """The order's total in the customer's currency: ``total_price_set.presentment_money``; or,
    when the body names only ``presentment_currency`` and it is the shop's, the shop total."""
    presentment = _object(_object(body.get("total_price_set")).get("presentment_money"))
    code = presentment.get("currency_code") or body.get("presentment_currency")
    if not isinstance(code, str) or len(code) != 3:
        return None, None
    if "amount" in presentment:
        return _money(presentment["amount"], "presentment_money"), code.upper()
    return (total, currency) if code.upper() == currency else (None, None)


def order_from_rest(body: dict) -> OrderRecord:
    """Read an order webhook body. Raises BadPayload for what is not an order."""
    ordered_at = parse_time(body.get("created_at"))
    if ordered_at is None:
        raise BadPayload("an order needs created_at")
    total, currency = _shop_total(body)
    presentment_total, presentment_currency = _presentment_total(body, total, currency)
    customer = body.get("customer")
    return OrderRecord(
        shopify_order_id=_id(body.get("id"), "order"),
        shopify_customer_id=_id(customer.get("id"), "customer") if isinstance(customer, dict) else None,
        total=total,
        currency=currency,
        ordered_at=ordered_at,
        cancelled_at=parse_time(body.get("cancelled_at")),
        updated_at=parse_time(body.get("updated_at")),
        test=body.get("test") is True,
        financial_status=financial_status(body.get("financial_status")),
        presentment_total=presentment_total,
        presentment_currency=presentment_currency,
    )


def _object(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _money_sets(value: object) -> Iterator[tuple[dict, dict]]:
    """Every ``*_set`` of a body: (shop_money, presentment_money), each {amount, currency_code}.
    Transactions are left out: theirs (``total_unsettled_set``) are not amounts of the refund."""
    if isinstance(value, list):
        for item in value:
            yield from _money_sets(item)
    elif isinstance(value, dict):
        shop, presentment = _object(value.get("shop_money")), _object(value.get("presentment_money"))
        if "currency_code" in shop and "currency_code" in presentment:
            yield shop, presentment
        for key, inner in value.items():
            if key != "transactions":
                yield from _money_sets(inner)


def _shop_rate(body: object) -> Decimal | None:
    """Shop money per unit of the customer's currency, as the body's ``*_set`` amounts show it:
    1 when they are the same currency; None when no amount tells."""
    shop_total = presentment_total = Decimal(0)
    for shop, presentment in _money_sets(body):
        if shop["currency_code"] == presentment["currency_code"]:
            return Decimal(1)
        shop_total += abs(_money(shop.get("amount"), "shop_money"))
        presentment_total += abs(_money(presentment.get("amount"), "presentment_money"))
    return shop_total / presentment_total if presentment_total else None


def _transactions(body: dict) -> list[dict]:
    transactions = body.get("transactions") or []
    if not isinstance(transactions, list):
        raise BadPayload("refund transactions must be a list")
    return [t for t in transactions if isinstance(t, dict)]


def _refunded(body: dict) -> Decimal:
    """The money of the refund's successful refund transactions, in the customer's currency."""
    return sum(
        (
            _money(t.get("amount"), "refund amount")
            for t in _transactions(body)
            if t.get("kind") == "refund" and t.get("status") in ("success", None)
        ),
        Decimal(0),
    )


def _refund_rate(body: dict, order: dict, shop_currency: str) -> Decimal | None:
    """Shop money per unit of the refund's transactions: the refund's own ``*_set`` amounts
    tell, else the order total's; a body with neither, naming no currency but the shop's (or
    none), is in the shop's currency. None: nothing tells."""
    rate = _shop_rate(body) or _shop_rate(order.get("total_price_set"))
    if rate is not None:
        return rate
    named = {t.get("currency") for t in _transactions(body)} | {order.get("presentment_currency")}
    return Decimal(1) if named - {None, ""} <= {shop_currency} else None


def refund_from_rest(body: dict, shop_currency: str, order: dict | None = None) -> RefundRecord:
    """Read one refund, its money in the shop's currency; ``order`` is the order body it came
    in (``orders/updated``), or None for ``refunds/create``."""
    refunded = _refunded(body)
    rate = _refund_rate(body, _object(order), shop_currency) if refunded else Decimal(1)
    if rate is None:
        raise BadPayload("the refund does not say what its transactions are in the shop's currency")
    return RefundRecord(
        shopify_refund_id=_id(body.get("id"), "refund"),
        shopify_order_id=_id(order.get("id"), "order") if order else _id(body.get("order_id"), "order"),
        amount=(refunded * rate).quantize(CENT, ROUND_HALF_UP),
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
        "presentment_total": order.presentment_total,
        "presentment_currency": order.presentment_currency,
        "ordered_at": order.ordered_at,
        "cancelled_at": order.cancelled_at,
        "shopify_updated_at": order.updated_at,
        "test": order.test,
        "financial_status": order.financial_status,
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
    """Mark the shop's orders as changed (the cached outcomes follow).

    The time is the app's, sent as a value: ``shops`` is a reference table on Citus, which
    refuses a VOLATILE function such as clock_timestamp() in an UPDATE of it (it would differ
    from node to node), and so refused every order webhook there. The value only has to
    change with each change of the orders (it keys the cache), not agree with the database's
    clock."""
    changed_at = datetime.now(UTC)
    session.execute(update(Shop).where(Shop.id == shop_id).values(orders_changed_at=changed_at))


def order_changed(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
    """``orders/create``, ``orders/updated``, ``orders/cancelled``, ``orders/paid``."""
    order = order_from_rest(body)
    refunds = body.get("refunds") or []
    if not isinstance(refunds, list):
        raise BadPayload("refunds must be a list")
    written = save_order(session, shop.id, order)
    new_refunds = save_refunds(
        session, shop.id, [refund_from_rest(r, shop.currency, body) for r in refunds if isinstance(r, dict)]
    )
    if written or new_refunds:
        touch_orders(session, shop.id)
        return "applied"
    return "stale"


def refund_created(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
    """``refunds/create``: one refund of an order (which may not have reached us yet)."""
    if save_refunds(session, shop.id, [refund_from_rest(body, shop.currency)]):
        touch_orders(session, shop.id)
        return "applied"
    return "stale"


ORDER_HANDLERS = {
    "orders/create": order_changed,
    "orders/updated": order_changed,
    "orders/cancelled": order_changed,
    "refunds/create": refund_created,
}
