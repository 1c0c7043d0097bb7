"""The stand-in's HTTP surface: Meta's two endpoints, and ``/sim/...`` for tests and benchmarks.

- ``POST /{version}/{phone_number_id}/messages`` and ``GET /{version}/{waba_id}/message_templates``
  answer as the Graph API does (bodies, codes, paging); the WABA node (``currency`` and
  ``pricing_analytics``, sim/meta/billing.py), the phone number node and its
  ``register``, the WABA's ``phone_numbers`` and ``subscribed_apps`` and ``oauth/access_token``
  are in sim/meta/accounts.py;
- ``GET /sim/truth``: every accepted message's fate; ``GET /sim/stats``: webhooks still to post;
  ``GET /sim/rate``: the busiest one-second window of accepted sends; ``GET``/``PUT /sim/config``;
  ``POST /sim/replay`` {phone_number_id, messages: [[wamid, callback, to]], events}: post that many
  statuses for messages the app already holds, shuffled, duplicates included;
  ``GET /sim/subscriptions``: the WABAs' subscribed apps and every unsubscription asked;
  ``GET /sim/sends``: when each accepted send arrived;
  ``GET /sim/billing``: every message Meta billed; ``PUT /sim/billing`` {surcharges} and
  ``POST /sim/billing/messages``: make Meta bill otherwise (sim/meta/billing.py);
  ``POST /sim/reset``: forget all messages (and with {"config": true} the configuration);
  ``POST /sim/emit`` {kind: user_preferences | account_error | template_status |
  template_quality | number_quality | capability | account_update, phone_number_id, ...}: post
  that webhook now (sim/meta/emit.py).

A plain threading HTTP/1.1 server (keep-alive): it must take a thousand sends a second.
"""

from __future__ import annotations

import base64
import json
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from sim.meta.accounts import AccountsApi
from sim.meta.emit import BadEmit, emit
from sim.meta.state import GraphError, MetaState

_MESSAGES = re.compile(r"^/v[\d.]+/([^/]+)/messages$")
_TEMPLATES = re.compile(r"^/v[\d.]+/([^/]+)/message_templates$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: MetaServer

    def log_message(self, format: str, *args) -> None:  # one line per request is too much at 1,000/s
        pass

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        if self._account_management("POST"):
            return None
        if match := _MESSAGES.match(path):
            return self._send_message(match.group(1))
        if path == "/sim/replay":
            return self._replay()
        if path == "/sim/billing/messages":
            return self._bill_others()
        if path == "/sim/emit":
            try:
                return self._json(200, emit(self.server.state, self._body() or {}))
            except (BadEmit, TypeError, ValueError, AttributeError) as error:
                return self._json(400, {"error": f"bad emit: {error}"})
        if path == "/sim/reset":
            body = self._body()
            self.server.state.reset(config=isinstance(body, dict) and bool(body.get("config")))
            self.server.accounts.reset()
            return self._json(200, {"ok": True})
        return self._json(404, {"error": "not found"})

    def do_DELETE(self) -> None:
        if not self._account_management("DELETE"):
            self._json(404, {"error": "not found"})

    def do_PUT(self) -> None:
        if urlsplit(self.path).path == "/sim/billing":
            return self._surcharges()
        if urlsplit(self.path).path != "/sim/config":
            return self._json(404, {"error": "not found"})
        try:
            self.server.state.config.update(self._body())
        except (KeyError, AttributeError, TypeError, ValueError) as error:
            return self._json(400, {"error": f"bad configuration: {error}"})
        return self._json(200, self.server.state.config.as_dict())

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        state = self.server.state
        if self._account_management("GET"):
            return None
        if match := _TEMPLATES.match(url.path):
            return self._templates(match.group(1), parse_qs(url.query))
        compact = parse_qs(url.query).get("compact") == ["1"]
        routes = {
            "/sim/truth": lambda: state.truth(compact),
            "/sim/rate": state.rate,
            "/sim/config": state.config.as_dict,
            "/sim/subscriptions": self.server.accounts.record,
            "/sim/sends": state.send_times,
            "/sim/billing": state.billing.summary,
            "/sim/stats": lambda: {"pending_webhooks": state.poster.pending(), **state.poster.stats},
            "/health": lambda: {"ok": True},
        }
        if url.path in routes:
            return self._json(200, routes[url.path]())
        return self._json(404, {"error": "not found"})

    def _account_management(self, method: str) -> bool:
        """Answer the phone number, WABA edge and code exchange endpoints (sim/meta/accounts.py)."""
        url = urlsplit(self.path)
        base_url = f"http://{self.headers.get('Host', '127.0.0.1')}"
        # Only a registration carries a body here; a send's body is left for _send_message.
        body = self._body() if method == "POST" and url.path.endswith("/register") else None
        answer = self.server.accounts.handle(
            method, url.path, parse_qs(url.query), self._token(), base_url, body
        )
        if answer is None:
            return False
        self._json(*answer)
        return True

    def _send_message(self, phone_number_id: str) -> None:
        try:
            fate, rule = self.server.state.send(phone_number_id, self._token(), self._body())
        except GraphError as error:
            return self._json(error.http_status, error.body())
        if rule.get("disconnect"):  # accepted, but the answer never reaches the caller: an ambiguous timeout
            self.close_connection = True
            return None
        if rule.get("answer_without_id"):  # accepted, but the 200 carries no message id
            return self._json(200, {"messaging_product": "whatsapp"})
        to = fate.to
        message = {
            "id": fate.wamid,
            "message_status": "held_for_quality_assessment" if fate.held else "accepted",
        }
        return self._json(
            200,
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to[1:]}],
                "messages": [message],
            },
        )

    def _replay(self) -> None:
        body = self._body()
        try:
            answer = self.server.state.replay(body["phone_number_id"], body["messages"], int(body["events"]))
        except (KeyError, TypeError, ValueError) as error:
            return self._json(400, {"error": f"bad replay: {error}"})
        return self._json(200, answer)

    def _surcharges(self) -> None:
        """``PUT /sim/billing`` {"surcharges": {"ES": "0.0100"}}: Meta bills that much more per
        message to the country from now on (the app's rate card does not know it)."""
        body = self._body()
        try:
            self.server.state.billing.set_surcharges(body["surcharges"])
        except (KeyError, TypeError, ValueError, ArithmeticError) as error:
            return self._json(400, {"error": f"bad billing: {error}"})
        return self._json(200, self.server.state.billing.summary())

    def _bill_others(self) -> None:
        """``POST /sim/billing/messages`` {phone_number_id, to, category, at, count?,
        pricing_type?}: bill messages the app never sent, as another app (or the WhatsApp
        Business app) on the same number would have."""
        body = self._body()
        try:
            account = self.server.state.config.accounts[body["phone_number_id"]]
            for _ in range(int(body.get("count", 1))):
                self.server.state.billing.bill(
                    at=int(body["at"]),
                    waba_id=str(account["waba_id"]),
                    phone_number=str(account.get("display", "")),
                    to=str(body["to"]),
                    category=str(body["category"]).lower(),
                    pricing_type=str(body.get("pricing_type", "regular")).lower(),
                )
        except (KeyError, TypeError, ValueError) as error:
            return self._json(400, {"error": f"bad billing: {error}"})
        return self._json(200, {"ok": True})

    def _templates(self, waba_id: str, query: dict) -> None:
        try:
            templates = self.server.state.waba_templates(waba_id, self._token())
        except GraphError as error:
            return self._json(error.http_status, error.body())
        if name := (query.get("name") or [None])[0]:
            templates = [t for t in templates if t["name"] == name]
        try:
            limit = max(1, min(int((query.get("limit") or ["25"])[0]), 100))
            start = int(base64.b64decode((query.get("after") or ["MA=="])[0]).decode() or 0)
        except ValueError:
            return self._json(400, GraphError(100, "Invalid parameter", "Bad limit or cursor.").body())
        page = templates[start : start + limit]
        paging = {
            "cursors": {
                "before": base64.b64encode(str(start).encode()).decode(),
                "after": base64.b64encode(str(start + len(page)).encode()).decode(),
            }
        }
        if start + limit < len(templates):
            after = paging["cursors"]["after"]
            host = self.headers.get("Host", "127.0.0.1")
            paging["next"] = f"http://{host}{urlsplit(self.path).path}?limit={limit}&after={after}" + (
                f"&name={name}" if name else ""
            )
        return self._json(200, {"data": page, "paging": paging})

    def _token(self) -> str | None:
        header = self.headers.get("Authorization", "")
        return header[7:] if header.startswith("Bearer ") else None

    def _body(self) -> object:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"null")
        except ValueError:
            return None

    def _json(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class MetaServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024  # hundreds of keep-alive connections open at once

    def __init__(self, address: tuple[str, int], state: MetaState) -> None:
        super().__init__(address, Handler)
        self.state = state
        self.accounts = AccountsApi(state)

    def start_posting(self) -> None:
        self.state.poster.start(self.state.config.posters)
