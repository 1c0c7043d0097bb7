"""The shop's orders as Shopify's Admin API shows them: the ``orders`` connection (forward
paging, newest-last by ``CREATED_AT``, and the ``created_at`` search term), each node in the
published schema's shape (``test``, ``displayFinancialStatus``, ``totalPriceSet.shopMoney``,
``customer``, ``refunds`` with ``totalRefundedSet``). Tests and the demo put orders with
``PUT /sim/shops/{shop}/orders``: [{"id", "customer_id", "total", "currency", "created_at",
"updated_at"?, "cancelled_at"?, "test"? (false), "financial_status"? (an
``OrderDisplayFinancialStatus``, PAID by default), "presentment"?: {"total", "currency"} (what
the customer paid in; the shop's total and currency by default), "refunds"?: [{"id", "amount",
"created_at"}]}]. A MoneyBag carries both ``shopMoney`` and ``presentmentMoney``, as Shopify's does.
"""

from __future__ import annotations

import base64
import re
import threading
from datetime import UTC, datetime

from sim.shopify.graphql_api import SCHEMA

_TERM = re.compile(r"^created_at:(>=|>)'?([^']+)'?$")


class ShopOrders:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_shop: dict[str, list[dict]] = {}

    def reset(self) -> None:
        with self.lock:
            self.by_shop = {}

    def put(self, shop: str, entries: list[dict]) -> list[dict]:
        nodes = sorted((_node(e) for e in entries), key=lambda n: (n["createdAt"], n["legacyResourceId"]))
        with self.lock:
            self.by_shop[shop] = nodes
        return nodes

    def page(
        self, shop: str, first: int, after: int | None, since: datetime | None
    ) -> tuple[list[dict], bool]:
        with self.lock:
            nodes = [n for n in self.by_shop.get(shop, []) if since is None or _time(n["createdAt"]) >= since]
        if after is not None:
            index = next((i for i, n in enumerate(nodes) if int(n["legacyResourceId"]) == after), len(nodes))
            nodes = nodes[index + 1 :]
        return nodes[:first], len(nodes) > first


def _money(amount: object, currency: str, presentment: dict | None = None) -> dict:
    paid = presentment or {"total": amount, "currency": currency}
    return {
        "shopMoney": {"amount": str(amount), "currencyCode": currency},
        "presentmentMoney": {"amount": str(paid["total"]), "currencyCode": paid["currency"]},
    }


def _node(entry: dict) -> dict:
    currency = entry.get("currency", "USD")
    customer = entry.get("customer_id")
    return {
        "id": f"gid://shopify/Order/{entry['id']}",
        "legacyResourceId": str(entry["id"]),
        "createdAt": entry["created_at"],
        "updatedAt": entry.get("updated_at") or entry["created_at"],
        "cancelledAt": entry.get("cancelled_at"),
        "test": bool(entry.get("test", False)),
        "displayFinancialStatus": entry.get("financial_status", "PAID"),
        "currencyCode": currency,
        "totalPriceSet": _money(entry["total"], currency, entry.get("presentment")),
        "customer": {"id": f"gid://shopify/Customer/{customer}"} if customer else None,
        "refunds": [
            {
                "id": f"gid://shopify/Refund/{r['id']}",
                "createdAt": r["created_at"],
                "totalRefundedSet": _money(r["amount"], currency),
            }
            for r in entry.get("refunds", [])
        ],
    }


def _cursor(order_id: str) -> str:
    return base64.b64encode(f"order:{order_id}".encode()).decode()


def _after(cursor: str | None) -> int | None:
    if not cursor:
        return None
    kind, _, value = base64.b64decode(cursor).decode().partition(":")
    if kind != "order" or not value.isdigit():
        raise ValueError(f"Invalid cursor for current pagination sort: {cursor}")
    return int(value)


def _time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _since(query: str | None) -> datetime | None:
    if not query or not query.strip():
        return None
    match = _TERM.match(query.strip())
    if match is None:
        raise ValueError(f"The stand-in only searches orders by created_at, not {query!r}")
    return _time(match.group(2))


def _orders(_root, info, first=None, after=None, query=None, **_ignored) -> dict:
    state, shop = info.context["state"], info.context["shop"]
    if first is None or not 0 < first <= state.config.max_page_size:
        raise ValueError(
            f"The maximum number of records that can be requested is {state.config.max_page_size}."
        )
    page, more = state.orders.page(shop, first, _after(after), _since(query))
    return {
        "nodes": page,
        "edges": [{"cursor": _cursor(n["legacyResourceId"]), "node": n} for n in page],
        "pageInfo": {
            "hasNextPage": more,
            "hasPreviousPage": after is not None,
            "startCursor": _cursor(page[0]["legacyResourceId"]) if page else None,
            "endCursor": _cursor(page[-1]["legacyResourceId"]) if page else None,
        },
    }


SCHEMA.query_type.fields["orders"].resolve = _orders
