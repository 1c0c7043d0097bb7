"""One-time app purchases as Shopify's Billing API plays them, in the published schema's shape
(``AppPurchaseOneTime``: ``id``, ``name``, ``price { amount currencyCode }``, ``status``,
``test``, ``createdAt``).

``appPurchaseOneTimeCreate`` keeps a PENDING purchase and answers a ``confirmationUrl`` on the
stand-in: an HTML page where the merchant approves or declines, as on Shopify's own page. Either
choice sets the status (ACTIVE or DECLINED), sends the signed ``app_purchases_one_time/update``
webhook and redirects the browser to the purchase's ``returnUrl`` with ``charge_id``, as Shopify
does. ``POST /sim/billing/<n>/expire`` lets a purchase lapse (EXPIRED, with its webhook). A
purchase is visible only to its own shop's token, through ``node(id:)`` and
``currentAppInstallation.oneTimePurchases``.
"""

from __future__ import annotations

import copy
import html
import itertools
import threading
from decimal import Decimal, InvalidOperation
from urllib.parse import urlencode, urlsplit, urlunsplit

from sim.shopify.customers import first_id, now_iso

GID = "gid://shopify/AppPurchaseOneTime/{n}"
TOPIC = "app_purchases_one_time/update"


class Purchases:
    def __init__(self, state) -> None:
        self.state = state  # ShopifyState: config and the webhook sender
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.by_number: dict[int, dict] = {}
            self.numbers = itertools.count(1017262349)

    # ---- GraphQL ----------------------------------------------------------------------------

    def create(
        self, shop: str, name: str, price: dict, return_url: str, test: bool | None, base_url: str
    ) -> dict:
        problems = _problems(name, price, return_url)
        if not test and shop in self.state.config.development_stores:
            problems.append({"field": ["test"], "message": "The shop cannot accept the provided charge."})
        if problems:
            return {"appPurchaseOneTime": None, "confirmationUrl": None, "userErrors": problems}
        with self.lock:
            number = next(self.numbers)
            now = now_iso()
            self.by_number[number] = {
                "shop": shop,
                "return_url": return_url,
                "updated_at": now,
                "node": {
                    "__typename": "AppPurchaseOneTime",
                    "id": GID.format(n=number),
                    "name": name,
                    "price": {
                        "amount": str(Decimal(str(price["amount"]))),
                        "currencyCode": price["currencyCode"],
                    },
                    "status": "PENDING",
                    "test": bool(test),
                    "createdAt": now,
                },
            }
            node = copy.deepcopy(self.by_number[number]["node"])
        self.state.stats["purchases_created"] += 1
        return {
            "appPurchaseOneTime": node,
            "confirmationUrl": f"{base_url}/sim/billing/confirm/{number}",
            "userErrors": [],
        }

    def node(self, shop: str, gid: str) -> dict | None:
        with self.lock:
            entry = self.by_number.get(_number(gid))
            return copy.deepcopy(entry["node"]) if entry and entry["shop"] == shop else None

    def of_shop(self, shop: str, first: int | None, reverse: bool) -> dict:
        with self.lock:
            nodes = [copy.deepcopy(e["node"]) for _, e in sorted(self.by_number.items()) if e["shop"] == shop]
        if reverse:
            nodes.reverse()
        nodes = nodes[: first or 0]
        return {
            "nodes": nodes,
            "edges": [{"cursor": n["id"], "node": n} for n in nodes],
            "pageInfo": {
                "hasNextPage": False,
                "hasPreviousPage": False,
                "startCursor": None,
                "endCursor": None,
            },
        }

    # ---- the merchant's choice --------------------------------------------------------------

    def page(self, number: int) -> str | None:
        with self.lock:
            entry = copy.deepcopy(self.by_number.get(number))
        if entry is None:
            return None
        node = entry["node"]
        price = f"{node['price']['amount']} {node['price']['currencyCode']}"
        test = " (test charge: nothing is billed)" if node["test"] else ""
        action = f"/sim/billing/confirm/{number}"
        return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Approve charge</title></head>
<body><main>
<h1>Approve a one-time charge</h1>
<p data-purchase-name>{html.escape(node["name"])}</p>
<p>Price: <strong>{html.escape(price)}</strong>{test}</p>
<p>Status: <span data-purchase-status>{node["status"]}</span></p>
<form method="post" action="{action}/approve"><button type="submit">Approve</button></form>
<form method="post" action="{action}/decline"><button type="submit">Decline</button></form>
</main></body></html>"""

    def decide(self, number: int, status: str) -> str | None:
        """Set a PENDING purchase's final status and send its webhook; answer where the browser
        goes next (the returnUrl with ``charge_id``), None for no such purchase."""
        with self.lock:
            entry = self.by_number.get(number)
            if entry is None:
                return None
            if entry["node"]["status"] == "PENDING":
                entry["node"]["status"] = status
                entry["updated_at"] = now_iso()
                changed = copy.deepcopy(entry)
            else:
                changed = None
            back = _with_query(entry["return_url"], {"charge_id": str(number)})
        if changed is not None:
            self.state.sender.send_later(changed["shop"], TOPIC, webhook_body(changed))
        return back

    def body(self, number: int) -> tuple[str, dict] | None:
        """The shop and the webhook body of a purchase as it is now (tests send it again)."""
        with self.lock:
            entry = copy.deepcopy(self.by_number.get(number))
        return (entry["shop"], webhook_body(entry)) if entry else None


def webhook_body(entry: dict) -> dict:
    """The ``app_purchases_one_time/update`` body, as Shopify's published example has it."""
    node = entry["node"]
    return {
        "app_purchase_one_time": {
            "admin_graphql_api_id": node["id"],
            "name": node["name"],
            "status": node["status"],
            "admin_graphql_api_shop_id": f"gid://shopify/Shop/{first_id(entry['shop'])}",
            "created_at": node["createdAt"],
            "updated_at": entry["updated_at"],
        }
    }


def _number(gid: str) -> int:
    prefix = GID.format(n="")
    tail = gid[len(prefix) :] if isinstance(gid, str) and gid.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else -1


def _problems(name: str, price: dict, return_url: str) -> list[dict]:
    problems = []
    if not name.strip():
        problems.append({"field": ["name"], "message": "Name can't be blank"})
    try:
        if Decimal(str(price.get("amount"))) <= 0:
            raise InvalidOperation
    except InvalidOperation:
        problems.append({"field": ["price", "amount"], "message": "Price must be greater than 0"})
    if urlsplit(return_url).scheme not in ("http", "https"):
        problems.append({"field": ["returnUrl"], "message": "Return url is invalid"})
    return problems


def _with_query(url: str, extra: dict) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(extra)) if q)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
