"""The stand-in's account management endpoints, shaped as Meta's Graph API answers them:

- ``GET /{version}/{phone-number-id}?fields=...``: the number's node (display_phone_number,
  verified_name, quality_rating, throughput {level}, whatsapp_business_manager_messaging_limit);
- ``GET /{version}/{waba-id}?fields=...``: the account's node (id, name, currency, timezone_id,
  as Meta's OpenAPI WhatsAppBusinessAccount; id and name when no fields are asked). Its
  ``currency`` is the account's own (``"currency"`` on any of its numbers; USD by default);
- ``GET /{version}/{waba-id}/phone_numbers``: the account's numbers, cursor-paged;
- ``GET``/``POST``/``DELETE /{version}/{waba-id}/subscribed_apps``: the apps subscribed to its
  webhooks (``data[].whatsapp_business_api_data {id, name, link}``) / subscribe the token's app
  (``{"success": true}``) / unsubscribe it (``{"success": true}``; 404 with code 803 when it was
  not subscribed, as Meta's OpenAPI ``unsubscribeFromWabaWebhooks`` shows). Every unsubscription
  asked is kept, for tests to read at ``GET /sim/subscriptions``;
- ``GET /{version}/oauth/access_token?client_id&client_secret&code``: an Embedded Signup code
  exchanged for a business token (``{"access_token", "token_type": "bearer"}``), once;
- ``POST /{version}/{phone-number-id}/register`` {messaging_product: "whatsapp", pin}: a number
  not yet on the Cloud API (``"status": "PENDING"``, ``"platform_type": "NOT_APPLICABLE"``) is
  registered (``{"success": true}``; then CONNECTED on CLOUD_API, the PIN its two-step
  verification PIN). A number whose account sets ``"pin"`` (two-step verification someone else
  set) refuses any other PIN with 133005; the 11th request for a number within 72 hours is
  refused with 133016, as Meta limits registration to 10 per number in a moving 72-hour window.

Errors come in Graph's shape (``error {message, type, code, error_subcode?, fbtrace_id}``):
190 for a token Meta cannot parse, 100 for an object the token cannot see, 200 for a missing
permission. An account may set ``"templates_readable": false`` (a token without
whatsapp_business_management) or ``"app_id"`` (the token belongs to another app). Embedded
Signup codes (``signup_codes``: code -> the token it exchanges for) work once.
"""

from __future__ import annotations

import base64
import re
import threading
import time

from sim.meta.billing import BadFieldSpec, parse_field

_NODE = re.compile(r"^/v[\d.]+/(\d+)$")
_EDGE = re.compile(r"^/v[\d.]+/(\d+)/(phone_numbers|subscribed_apps)$")
_OAUTH = re.compile(r"^/v[\d.]+/oauth/access_token$")
_APP_SUBSCRIPTIONS = re.compile(r"^/v[\d.]+/(\d+)/subscriptions$")
_REGISTER = re.compile(r"^/v[\d.]+/(\d+)/register$")
_PIN = re.compile(r"^[0-9]{6}$")
REGISTER_LIMIT, REGISTER_WINDOW_S = 10, 72 * 3600
NUMBER_DEFAULTS = {
    "verified_name": "Demo Shop",
    "quality_rating": "GREEN",
    "throughput": "STANDARD",
    "messaging_limit": "TIER_2K",
    "is_on_biz_app": False,  # True: a coexistence number, also used in the WhatsApp Business app
    # On the Cloud API. A brand-new number is PENDING on NOT_APPLICABLE until it is registered.
    "status": "CONNECTED",
    "platform_type": "CLOUD_API",
    "code_verification_status": "VERIFIED",
    "name_status": "APPROVED",
}


class Refusal(Exception):
    def __init__(self, http_status: int, code: int, message: str, kind: str = "OAuthException", subcode=None):
        super().__init__(message)
        self.http_status, self.code, self.message, self.kind, self.subcode = (
            http_status,
            code,
            message,
            kind,
            subcode,
        )

    def body(self) -> dict:
        error = {"message": self.message, "type": self.kind, "code": self.code, "fbtrace_id": "AStandInTrace"}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        return {"error": error}


def unsupported(object_id: str, method: str = "get") -> Refusal:
    return Refusal(
        400,
        100,
        f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be loaded "
        "due to missing permissions, or does not support this operation.",
        "GraphMethodException",
        33,
    )


def _only(node: dict, query: dict, default: str | None) -> dict:
    """The node's ``id`` and the fields asked for (all of them when nothing is asked and no default)."""
    wanted = (query.get("fields") or [default])[0]
    if wanted is None:
        return node
    return {key: node[key] for key in ["id", *wanted.split(",")] if key in node}


def split_fields(fields: str) -> list[str]:
    """The ``fields`` parameter's fields: commas inside a field's modifiers do not split."""
    found, depth, current = [], 0, ""
    for char in fields:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            found.append(current.strip())
            current = ""
        else:
            current += char
    return [f for f in [*found, current.strip()] if f]


def display_number(digits: str) -> str:
    """Meta's display form of a number: "+1 555-000-1234" for 15550001234."""
    return f"+{digits[0]} {digits[1:4]}-{digits[4:7]}-{digits[7:]}" if len(digits) == 11 else f"+{digits}"


class AccountsApi:
    def __init__(self, state) -> None:
        self.state = state
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.subscriptions: dict[str, set[str]] = {}  # waba id -> app ids
        self.unsubscriptions: list[dict] = []  # every DELETE .../subscribed_apps, in arrival order
        self.used_codes: set[str] = set()

    def record(self) -> dict:
        """What tests read at ``GET /sim/subscriptions``: who is subscribed now, and every
        unsubscription asked (the account, the token's app, whether it was subscribed)."""
        with self.lock:
            subscribed = {waba: sorted(apps) for waba, apps in self.subscriptions.items()}
            return {"subscribed": subscribed, "unsubscriptions": list(self.unsubscriptions)}

    @property
    def config(self):
        return self.state.config

    def handle(
        self, method: str, path: str, query: dict, token: str | None, base_url: str, body: object = None
    ) -> tuple[int, dict] | None:
        """Answer a management request, or None when the path is not one of ours."""
        if self.config.management_delay_s and (_OAUTH.match(path) or _NODE.match(path) or _EDGE.match(path)):
            time.sleep(self.config.management_delay_s)
        try:
            if _OAUTH.match(path) and method == "GET":
                return 200, self._exchange(query)
            if (match := _APP_SUBSCRIPTIONS.match(path)) and method == "GET":
                return 200, self._app_subscriptions(match.group(1), token)
            if (match := _REGISTER.match(path)) and method == "POST":
                return 200, self._register(match.group(1), token, body)
            if (match := _NODE.match(path)) and method == "GET" and self._is_waba(match.group(1)):
                return 200, self._waba(match.group(1), token, query)
            if (match := _NODE.match(path)) and method == "GET":
                return 200, self._number(match.group(1), token, query)
            if match := _EDGE.match(path):
                return self._edge(method, match.group(1), match.group(2), token, query, base_url)
        except Refusal as refusal:
            return refusal.http_status, refusal.body()
        return None

    def _authorised(self, token: str | None) -> list[dict]:
        """The accounts the token may see; 190 when it is no token Meta issued."""
        found = [a for a in self.config.accounts.values() if token and a.get("token") == token]
        if not found:
            raise Refusal(401, 190, "Invalid OAuth access token - Cannot parse access token")
        return found

    def _number(self, phone_number_id: str, token: str | None, query: dict) -> dict:
        mine = self._authorised(token)
        account = self.config.accounts.get(phone_number_id)
        if account is None and any(a.get("waba_id") == phone_number_id for a in mine):
            return _only(self._account(phone_number_id), query, "id,name")
        if account is None or not any(a.get("waba_id") == account["waba_id"] for a in mine):
            raise unsupported(phone_number_id)
        # Without ``fields`` Meta answers the default ones (getPhoneNumberById in Meta's OpenAPI).
        return _only(
            self._node(phone_number_id, account),
            query,
            "id,display_phone_number,verified_name,quality_rating",
        )

    def _account(self, waba_id: str) -> dict:
        """The WhatsApp Business Account's node: its numbers' account settings, USD unless one
        of them names a ``currency``."""
        numbers = [a for a in self.config.accounts.values() if a.get("waba_id") == waba_id]
        currency = next((a["currency"] for a in numbers if a.get("currency")), "USD")
        name = next(
            (a["verified_name"] for a in numbers if a.get("verified_name")), NUMBER_DEFAULTS["verified_name"]
        )
        return {"id": waba_id, "name": name, "currency": currency, "timezone_id": "1"}

    def _node(self, phone_number_id: str, account: dict) -> dict:
        values = {**NUMBER_DEFAULTS, **account}
        return {
            "id": phone_number_id,
            "display_phone_number": display_number(account.get("display", "")),
            "verified_name": values["verified_name"],
            "quality_rating": values["quality_rating"],
            "throughput": {"level": values["throughput"]},
            "whatsapp_business_manager_messaging_limit": values["messaging_limit"],
            "is_on_biz_app": bool(values["is_on_biz_app"]),
            "status": values["status"],
            "platform_type": values["platform_type"],
            "code_verification_status": values["code_verification_status"],
            "name_status": values["name_status"],
        }

    def _is_waba(self, object_id: str) -> bool:
        return object_id not in self.config.accounts and any(
            a.get("waba_id") == object_id for a in self.config.accounts.values()
        )

    def _waba(self, waba_id: str, token: str | None, query: dict) -> dict:
        """The WABA node: ``id``, ``currency`` and ``pricing_analytics`` (sim/meta/billing.py)
        when asked. An account may set ``"currency"`` (USD by default) and ``"cost_hidden":
        true`` (paid through a partner's credit line: Meta leaves cost out)."""
        mine = [a for a in self._authorised(token) if a.get("waba_id") == waba_id]
        if not mine:
            raise unsupported(waba_id)
        plain = self._account(waba_id)  # id, name, currency, timezone_id
        node: dict = {"id": waba_id}
        # Without ``fields`` Meta answers the default ones (id and name).
        for field in split_fields((query.get("fields") or ["id,name"])[0]):
            name, _, modifiers = field.partition(".")
            if name in plain:
                node[name] = plain[name]
            elif name == "pricing_analytics":
                try:
                    wanted = parse_field(modifiers, time.time())
                except BadFieldSpec as error:
                    raise Refusal(400, 100, f"Invalid parameter: {error}") from None
                with_cost = not mine[0].get("cost_hidden")
                node["pricing_analytics"] = self.state.billing.answer(waba_id, wanted, with_cost)
            else:
                raise Refusal(
                    400,
                    100,
                    f"Tried accessing nonexisting field ({name}) on node type (WhatsAppBusinessAccount)",
                )
        return node

    def _listed(self, phone_number_id: str, account: dict) -> dict:
        """The node as the account's list describes it: Meta's OpenAPI gives the list its own
        words (WhatsAppBusinessAccountPhoneNumber: ``status`` LINKED or PENDING, ``host_platform``)
        where the node itself says CONNECTED and ``platform_type``."""
        node = self._node(phone_number_id, account)
        node["status"] = "PENDING" if node["status"] == "PENDING" else "LINKED"
        node["host_platform"] = node.pop("platform_type")
        node.pop("name_status")
        return node

    def _register(self, phone_number_id: str, token: str | None, body: object) -> dict:
        mine = self._authorised(token)
        account = self.config.accounts.get(phone_number_id)
        if account is None or not any(a.get("waba_id") == account["waba_id"] for a in mine):
            raise unsupported(phone_number_id, "post")
        pin = body.get("pin") if isinstance(body, dict) else None
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp":
            raise Refusal(400, 100, "The parameter messaging_product is required.")
        if not isinstance(pin, str) or not _PIN.match(pin):
            raise Refusal(400, 100, "Invalid PIN format. PIN must be exactly 6 digits")
        now = time.time()
        with self.lock:
            attempts = [t for t in account.get("register_attempts", []) if now - t < REGISTER_WINDOW_S]
            if len(attempts) >= REGISTER_LIMIT:
                raise Refusal(400, 133016, "Account register deregister rate limit exceeded")
            account["register_attempts"] = [*attempts, now]
            if account.get("pin") and account["pin"] != pin:
                raise Refusal(400, 133005, "Two step verification PIN Mismatch")
            account.update(pin=pin, status="CONNECTED", platform_type="CLOUD_API")
        return {"success": True}

    def _edge(
        self, method: str, waba_id: str, edge: str, token: str | None, query: dict, base_url: str
    ) -> tuple[int, dict]:
        mine = [a for a in self._authorised(token) if a.get("waba_id") == waba_id]
        if not mine:
            raise unsupported(waba_id, method.lower())
        if edge == "phone_numbers" and method == "GET":
            return 200, self._phone_numbers(waba_id, query, base_url)
        if edge == "subscribed_apps" and method == "POST":
            with self.lock:
                self.subscriptions.setdefault(waba_id, set()).add(mine[0].get("app_id", self.config.app_id))
            return 200, {"success": True}
        if edge == "subscribed_apps" and method == "DELETE":
            return self._unsubscribe(waba_id, mine[0].get("app_id", self.config.app_id))
        if edge == "subscribed_apps" and method == "GET":
            apps = sorted(self.subscriptions.get(waba_id, set()))
            data = [
                {"whatsapp_business_api_data": {"id": a, "name": "Stand-in app", "link": ""}} for a in apps
            ]
            return 200, {"data": data}
        raise unsupported(waba_id, method.lower())

    def _unsubscribe(self, waba_id: str, app_id: str) -> tuple[int, dict]:
        with self.lock:
            apps = self.subscriptions.get(waba_id, set())
            was_subscribed = app_id in apps
            apps.discard(app_id)
            self.unsubscriptions.append(
                {"waba_id": waba_id, "app_id": app_id, "was_subscribed": was_subscribed, "at": time.time()}
            )
        if not was_subscribed:
            raise Refusal(
                404, 803, "WhatsApp Business Account not found or not subscribed", "GraphMethodException"
            )
        return 200, {"success": True}

    def _phone_numbers(self, waba_id: str, query: dict, base_url: str) -> dict:
        ids = sorted(pid for pid, a in self.config.accounts.items() if a.get("waba_id") == waba_id)
        limit = max(1, min(int((query.get("limit") or ["25"])[0]), 100))
        start = int(base64.b64decode((query.get("after") or ["MA=="])[0]).decode() or 0)
        page = ids[start : start + limit]
        after = base64.b64encode(str(start + len(page)).encode()).decode()
        paging = {"cursors": {"before": base64.b64encode(str(start).encode()).decode(), "after": after}}
        if start + limit < len(ids):
            paging["next"] = f"{base_url}/v25.0/{waba_id}/phone_numbers?limit={limit}&after={after}"
        nodes = [_only(self._listed(pid, self.config.accounts[pid]), query, None) for pid in page]
        return {"data": nodes, "paging": paging}

    def _app_subscriptions(self, app_id: str, token: str | None) -> dict:
        """The app's webhook subscriptions, for its own app token ``{app-id}|{app-secret}``
        only (Graph's app subscriptions edge)."""
        if app_id != self.config.app_id or token != f"{self.config.app_id}|{self.config.app_secret}":
            raise Refusal(400, 190, "Invalid OAuth access token - Cannot parse access token")
        fields = [{"name": name, "version": "v25.0"} for name in self.config.app_webhook_fields]
        return {
            "data": [
                {
                    "object": "whatsapp_business_account",
                    "callback_url": self.config.webhook_url or "",
                    "active": True,
                    "fields": fields,
                }
            ]
        }

    def _exchange(self, query: dict) -> dict:
        client_id, secret, code = ((query.get(k) or [""])[0] for k in ("client_id", "client_secret", "code"))
        if client_id != self.config.app_id or secret != self.config.app_secret:
            raise Refusal(400, 1, "Error validating client secret.")
        token = self.config.signup_codes.get(code)
        if token is None:
            raise Refusal(400, 100, "Invalid verification code format.", subcode=36008)
        with self.lock:
            if code in self.used_codes:
                raise Refusal(400, 100, "This authorization code has been used.", subcode=36009)
            self.used_codes.add(code)
        return {"access_token": token, "token_type": "bearer"}
