"""The stand-in's HTTP surface: Shopify's two endpoints, and ``/sim/...`` for tests and the demo.

- ``POST /admin/oauth/access_token``: token exchange and refresh (JSON or form body);
- ``POST /admin/api/{version}/graphql.json``: the GraphQL Admin API (``X-Shopify-Access-Token``);
- ``GET``/``PUT /sim/config``; ``POST /sim/reset`` ({"config": true} also restores the config);
  ``GET /sim/stats``: exchanges, refreshes, throttled answers, webhooks posted and pending;
- ``GET``/``PUT``/``POST /sim/shops/{shop}/customers``: list, replace (seed format), change one;
  ``PUT /sim/shops/{shop}/orders``: replace the shop's orders (sim/shopify/orders.py);
  ``GET /sim/shops/{shop}/count``: how many customers (makes the shop's customers if needed);
- ``POST /sim/shops/{shop}/expire-tokens``, ``POST /sim/shops/{shop}/uninstall``;
- ``GET /sim/bulk/<n>.jsonl``: the result of a finished bulk export (its ``url``);
- ``GET /sim/billing/confirm/<n>``: the approval page of a one-time purchase (its
  ``confirmationUrl``); ``POST .../approve`` or ``.../decline`` decides it and redirects to its
  ``returnUrl``; ``POST /sim/billing/<n>/expire`` lets it lapse; ``GET /sim/billing/<n>``: its
  shop and webhook body as they are now (sim/shopify/billing.py);
- ``POST /sim/webhooks`` {shop, topic, customer_id?, payload?, webhook_id?, triggered_at?}:
  send one signed webhook to the app now; answers the app's HTTP status.
"""

from __future__ import annotations

import json
import re
import shutil
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from sim.shopify.state import OAuthError, ShopifyState, Unauthorized, webhook_payload

_GRAPHQL = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
_BULK_FILE = re.compile(r"^/sim/bulk/(\d+)\.jsonl$")
_CONFIRM = re.compile(r"^/sim/billing/confirm/(\d+)(?:/(approve|decline))?$")
_PURCHASE = re.compile(r"^/sim/billing/(\d+)(?:/(expire))?$")
_SHOP = re.compile(r"^/sim/shops/([a-z0-9][a-z0-9-]*\.myshopify\.com)/([a-z-]+)$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: ShopifyServer

    def log_message(self, format: str, *args) -> None:  # tests and the demo need no access log
        pass

    @property
    def state(self) -> ShopifyState:
        return self.server.state

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if path == "/admin/oauth/access_token":
            return self._token()
        if match := _GRAPHQL.match(path):
            return self._graphql()
        if path == "/sim/reset":
            body = self._body()
            self.state.reset(config=isinstance(body, dict) and bool(body.get("config")))
            return self._json(200, {"ok": True})
        if path == "/sim/webhooks":
            return self._webhook(self._body() or {})
        if (match := _CONFIRM.match(path)) and match.group(2):
            self._body()  # the form's fields: the choice is in the path
            status = "ACTIVE" if match.group(2) == "approve" else "DECLINED"
            back = self.state.purchases.decide(int(match.group(1)), status)
            if back is None:
                return self._json(404, {"errors": "Not Found"})
            return self._redirect(back)
        if (match := _PURCHASE.match(path)) and match.group(2) == "expire":
            back = self.state.purchases.decide(int(match.group(1)), "EXPIRED")
            return self._json(404 if back is None else 200, {"ok": back is not None})
        if match := _SHOP.match(path):
            return self._shop_action(match.group(1), match.group(2), self._body())
        return self._json(404, {"errors": "Not Found"})

    def do_PUT(self) -> None:
        path = urlsplit(self.path).path
        if path == "/sim/config":
            try:
                self.state.config.update(self._body())
            except (KeyError, AttributeError, TypeError, ValueError) as error:
                return self._json(400, {"error": f"bad configuration: {error}"})
            return self._json(200, self.state.config.as_dict())
        match = _SHOP.match(path)
        if match and match.group(2) == "customers" and isinstance(body := self._body(), list):
            return self._json(200, self.state.put_customers(match.group(1), body))
        if match and match.group(2) == "orders" and isinstance(body := self._body(), list):
            return self._json(200, self.state.orders.put(match.group(1), body))
        return self._json(404, {"errors": "Not Found"})

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path == "/health":
            return self._json(200, {"ok": True})
        if path == "/sim/config":
            return self._json(200, self.state.config.as_dict())
        if path == "/sim/stats":
            return self._json(200, dict(self.state.stats) | {"pending_webhooks": self.state.sender.pending()})
        match = _SHOP.match(path)
        if match and match.group(2) == "customers":
            return self._json(200, self.state.list_customers(match.group(1)))
        if match and match.group(2) == "count":
            return self._json(200, {"customers": self.state.count_customers(match.group(1))})
        if match := _BULK_FILE.match(path):
            return self._bulk_file(int(match.group(1)))
        if (match := _CONFIRM.match(path)) and not match.group(2):
            return self._html(self.state.purchases.page(int(match.group(1))))
        if (match := _PURCHASE.match(path)) and not match.group(2):
            found = self.state.purchases.body(int(match.group(1)))
            if found is None:
                return self._json(404, {"errors": "Not Found"})
            return self._json(200, {"shop": found[0], "body": found[1]})
        return self._json(404, {"errors": "Not Found"})

    def _html(self, page: str | None) -> None:
        if page is None:
            return self._json(404, {"errors": "Not Found"})
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self.send_response(303)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _bulk_file(self, number: int) -> None:
        """A finished bulk export's JSONL (Shopify serves it from signed storage URLs)."""
        path = self.state.bulk.file(number)
        if path is None:
            return self._json(404, {"errors": "Not Found"})
        self.send_response(200)
        self.send_header("Content-Type", "application/jsonl")
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()
        with path.open("rb") as source:
            shutil.copyfileobj(source, self.wfile, 1 << 20)

    def _token(self) -> None:
        try:
            answer = self.state.token_request(self._params())
        except OAuthError as error:
            self.state.stats["token_refusals"] += 1
            return self._json(error.status, {"error": error.error, "error_description": error.description})
        return self._json(200, answer)

    def _graphql(self) -> None:
        body = self._body()  # read first: an unread body would poison the kept-alive connection
        try:
            shop = self.state.shop_for_token(self.headers.get("X-Shopify-Access-Token"))
        except Unauthorized as error:
            return self._json(401, {"errors": str(error)})
        if fault := self.state.next_fault():
            return self._fault(fault)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return self._json(400, {"errors": {"query": "Required parameter missing or invalid"}})
        variables = body.get("variables") if isinstance(body.get("variables"), dict) else None
        host = self.headers.get("Host") or ":".join(map(str, self.server.server_address[:2]))
        base_url = f"http://{host}"
        return self._json(200, self.state.graphql(shop, body["query"], variables, base_url))

    def _fault(self, fault: dict) -> None:
        status = int(fault.get("status", 503))
        headers = {"Retry-After": str(fault["retry_after"])} if "retry_after" in fault else {}
        message = "Exceeded 2 calls per second for api client." if status == 429 else "Internal error"
        return self._json(status, {"errors": message}, headers)

    def _shop_action(self, shop: str, action: str, body: object) -> None:
        state = self.state
        if action == "customers" and isinstance(body, dict) and "shopify_id" in body:
            webhook = body.pop("webhook", None)
            customer = state.upsert_customer(shop, body)
            if webhook:
                state.sender.send_later(shop, webhook, webhook_payload(state, shop, webhook, customer["id"]))
            return self._json(200, customer)
        if action == "expire-tokens":
            return self._json(200, {"expired": state.expire_tokens(shop)})
        if action == "uninstall":
            state.uninstall(shop)
            return self._json(
                200,
                state.sender.send_now(
                    shop, "app/uninstalled", webhook_payload(state, shop, "app/uninstalled", None)
                ),
            )
        return self._json(404, {"errors": "Not Found"})

    def _webhook(self, body: dict) -> None:
        try:
            shop, topic = body["shop"], body["topic"]
            # A payload given is sent as given (a test's own body); one made here is the subscription's.
            payload = body.get("payload") or self.state.sender.subscribed(
                topic, webhook_payload(self.state, shop, topic, body.get("customer_id"))
            )
        except (KeyError, TypeError, ValueError) as error:
            return self._json(400, {"error": f"bad webhook request: {error}"})
        if not (body.get("url") or self.state.config.webhook_url):
            return self._json(400, {"error": "no webhook_url configured"})
        options = {k: body[k] for k in ("webhook_id", "triggered_at", "url") if body.get(k)}
        return self._json(200, self.state.sender.send_now(shop, topic, payload, **options))

    def _params(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if "json" in (self.headers.get("Content-Type") or ""):
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError:
                return {}
            return parsed if isinstance(parsed, dict) else {}
        return dict(parse_qsl(raw.decode(errors="replace")))

    def _body(self) -> object:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def _json(self, status: int, payload: object, headers: dict | None = None) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


class ShopifyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], state: ShopifyState) -> None:
        super().__init__(address, Handler)
        self.state = state
