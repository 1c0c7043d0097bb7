"""Shopify order and refund webhook bodies in the REST shape Shopify sends (API 2026-10)."""

from __future__ import annotations

from datetime import datetime


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def refund_body(refund_id: int, order_id: int, amount: str, at: datetime) -> dict:
    """A ``refunds/create`` body: the money is in its refund transactions."""
    return {
        "id": refund_id,
        "order_id": order_id,
        "created_at": iso(at),
        "note": "customer returned an item",
        "refund_line_items": [],
        "transactions": [
            {
                "id": refund_id * 10,
                "order_id": order_id,
                "kind": "refund",
                "status": "success",
                "amount": amount,
            }
        ],
    }


def order_body(
    order_id: int,
    customer_id: int | None,
    total: str,
    created_at: datetime,
    *,
    currency: str = "EUR",
    updated_at: datetime | None = None,
    cancelled_at: datetime | None = None,
    refunds: list[dict] | None = None,
) -> dict:
    """An ``orders/create`` / ``orders/updated`` body."""
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{order_id % 10000}",
        "created_at": iso(created_at),
        "updated_at": iso(updated_at or created_at),
        "cancelled_at": iso(cancelled_at) if cancelled_at else None,
        "currency": currency,
        "presentment_currency": currency,
        "total_price": total,
        "subtotal_price": total,
        "financial_status": "paid",
        "customer": {"id": customer_id, "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}"}
        if customer_id
        else None,
        "refunds": refunds or [],
    }
