"""The Graph API calls that connect a WhatsApp number: read the number, list the account's
numbers and templates, subscribe our app to the account's webhooks (and unsubscribe it when the
number is released), exchange an Embedded Signup code, register a number on the Cloud API. Every
fact used here is cited in the README ("Connecting WhatsApp: Meta's facts").

Two failures, kept apart because the merchant's remedy differs:
``GraphRefused`` (Meta answered with an error: the merchant must fix an id or the token) and
``GraphUnreachable`` (no Graph answer at all: try again later). The token goes in the
Authorization header, never into a log line or an error message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests

from core.whatsapp.graph_api import CONNECT_TIMEOUT_S, graph_url, on_graph_host

READ_TIMEOUT_S = 15.0  # a merchant is waiting on the Settings page
MAX_PHONE_NUMBER_PAGES = 10
_TITLE_PREFIX = re.compile(r"^\(#\d+\)\s*")
# Phone number fields (GET /{phone-number-id}): display_phone_number, verified_name and
# quality_rating (Meta's OpenAPI, PhoneNumberInfo), throughput {level} (Meta's throughput page),
# whatsapp_business_manager_messaging_limit (replaces the deprecated messaging_limit_tier), and
# is_on_biz_app: the number is also used in the WhatsApp Business app (coexistence), which fixes
# its throughput at 20 messages a second (Meta's throughput page). Whether the number is on the
# Cloud API yet: status (PENDING until registered; CONNECTED after), platform_type (NOT_APPLICABLE
# until registered; Meta's OpenAPI calls the same enum host_platform: CLOUD_API, ON_PREMISE,
# NOT_APPLICABLE), code_verification_status (VERIFIED, UNVERIFIED) and name_status (the display
# name's review), all named by getPhoneNumberById and WhatsAppAccountNumber in Meta's OpenAPI.
PHONE_NUMBER_FIELDS = ",".join(
    (
        "id",
        "display_phone_number",
        "verified_name",
        "quality_rating",
        "throughput",
        "whatsapp_business_manager_messaging_limit",
        "is_on_biz_app",
        "status",
        "platform_type",
        "code_verification_status",
        "name_status",
    )
)


class GraphUnreachable(RuntimeError):
    """No Graph answer: the network failed, or Meta answered 5xx without an error body."""


class GraphRefused(RuntimeError):
    """Meta answered with a Graph error (``code`` and its message, as Meta wrote it)."""

    def __init__(self, code: int | None, message: str, http_status: int):
        super().__init__(message)
        self.code, self.message, self.http_status = code, message, http_status

    @property
    def about_token(self) -> bool:
        """Whether Meta refused the token itself or its permissions (190, 102, 0, 3, 10,
        200-299: Meta's authentication and permission codes), not the object asked for."""
        return self.code is not None and (self.code in (0, 3, 10, 102, 190) or 200 <= self.code <= 299)


@dataclass(frozen=True)
class PhoneNumber:
    id: str
    display_phone_number: str | None
    verified_name: str | None
    quality_rating: str | None
    throughput_level: str | None
    messaging_limit_tier: str | None
    is_on_biz_app: bool = False
    status: str | None = None
    platform_type: str | None = None
    code_verification_status: str | None = None
    name_status: str | None = None

    @property
    def needs_registration(self) -> bool:
        """Whether the number must still be registered on the Cloud API before it can send:
        Meta reports it PENDING, or on no platform (NOT_APPLICABLE). A number shared with the
        WhatsApp Business app (coexistence) is registered by Meta during its onboarding."""
        if self.is_on_biz_app:
            return False
        return self.status == "PENDING" or self.platform_type == "NOT_APPLICABLE"

    @classmethod
    def from_graph(cls, node: dict) -> PhoneNumber:
        throughput = node.get("throughput")
        return cls(
            id=str(node.get("id") or ""),
            display_phone_number=node.get("display_phone_number"),
            verified_name=node.get("verified_name"),
            quality_rating=node.get("quality_rating"),
            throughput_level=throughput.get("level") if isinstance(throughput, dict) else None,
            messaging_limit_tier=node.get("whatsapp_business_manager_messaging_limit")
            or node.get("messaging_limit_tier"),
            is_on_biz_app=node.get("is_on_biz_app") is True,
            status=_text(node.get("status")),
            platform_type=_text(node.get("platform_type")),
            code_verification_status=_text(node.get("code_verification_status")),
            name_status=_text(node.get("name_status")),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _call(method: str, url: str, token: str | None, **kwargs) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = requests.request(
            method, url, headers=headers, timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S), **kwargs
        )
    except requests.RequestException as error:
        raise GraphUnreachable(f"Meta could not be reached ({type(error).__name__}).") from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    error = payload.get("error") if isinstance(payload, dict) else None
    if response.ok and isinstance(payload, dict) and error is None:
        return payload
    if isinstance(error, dict):
        message = _TITLE_PREFIX.sub("", str(error.get("message") or "")) or f"HTTP {response.status_code}"
        raise GraphRefused(error.get("code"), message, response.status_code)
    raise GraphUnreachable(f"Meta answered HTTP {response.status_code} without a Graph error.")


def phone_number(phone_number_id: str, token: str) -> PhoneNumber:
    """Read the number's node: name, quality, throughput, messaging limit."""
    node = _call("GET", graph_url(phone_number_id), token, params={"fields": PHONE_NUMBER_FIELDS})
    return PhoneNumber.from_graph(node)


def account_currency(waba_id: str, token: str) -> str | None:
    """The currency Meta bills the WhatsApp Business Account in (GET /{waba-id}?fields=currency:
    ``currency``, three capital letters, in the WhatsAppBusinessAccount schema of Meta's
    OpenAPI); None when Meta's answer has none."""
    node = _call("GET", graph_url(waba_id), token, params={"fields": "currency"})
    currency = node.get("currency")
    return currency if isinstance(currency, str) and len(currency) == 3 and currency.isalpha() else None


def account_phone_number_ids(waba_id: str, token: str) -> set[str]:
    """The ids of every number of the WhatsApp Business Account (GET /{waba-id}/phone_numbers,
    following Meta's cursor paging)."""
    ids: set[str] = set()
    url: str | None = graph_url(waba_id, "phone_numbers")
    params: dict | None = {"fields": "id", "limit": 100}
    for _ in range(MAX_PHONE_NUMBER_PAGES):
        if url is None:
            break
        page = _call("GET", url, token, params=params)
        ids |= {str(node.get("id")) for node in page.get("data") or [] if isinstance(node, dict)}
        url, params = _next_page(page), None  # "next" carries the cursor
    return ids


def _next_page(page: dict) -> str | None:
    """A page's ``paging.next``, followed (with the token) only on Graph's own host."""
    url = (page.get("paging") or {}).get("next")
    if not url:
        return None
    if not on_graph_host(str(url)):
        raise GraphRefused(
            None, "Meta's list of the account's numbers pointed its next page at another host.", 200
        )
    return str(url)


def read_templates(waba_id: str, token: str) -> None:
    """Ask for one message template of the account: proves the token may read them (launch
    checks and the composer do, later)."""
    _call("GET", graph_url(waba_id, "message_templates"), token, params={"limit": 1, "fields": "name"})


def subscribe_app(waba_id: str, token: str) -> None:
    """Subscribe the token's app to the account's webhooks (POST /{waba-id}/subscribed_apps)."""
    answer = _call("POST", graph_url(waba_id, "subscribed_apps"), token)
    if answer.get("success") is not True:
        raise GraphRefused(None, "Meta did not confirm the webhook subscription.", 200)


def unsubscribe_app(waba_id: str, token: str) -> None:
    """Unsubscribe the token's app from the account's webhooks (DELETE /{waba-id}/subscribed_apps,
    answered ``{"success": true}``; Meta's OpenAPI, unsubscribeFromWabaWebhooks)."""
    answer = _call("DELETE", graph_url(waba_id, "subscribed_apps"), token)
    if answer.get("success") is not True:
        raise GraphRefused(None, "Meta did not confirm the webhook unsubscription.", 200)


def subscribed_app_ids(waba_id: str, token: str) -> set[str]:
    """The ids of the apps subscribed to the account's webhooks (GET /{waba-id}/subscribed_apps:
    ``data[].whatsapp_business_api_data.id``)."""
    answer = _call("GET", graph_url(waba_id, "subscribed_apps"), token)
    # Meta's examples nest the app in whatsapp_business_api_data; its SubscribedApp schema puts
    # id and name on the item itself. Read either.
    items = [item for item in answer.get("data") or [] if isinstance(item, dict)]
    apps = [item.get("whatsapp_business_api_data") or item for item in items]
    return {str(app.get("id")) for app in apps if app.get("id")}


def app_webhook_fields(app_id: str, app_secret: str) -> set[str]:
    """The WhatsApp Business Account webhook fields the Meta app is subscribed to (GET
    /{app-id}/subscriptions with the app's own access token, ``{app-id}|{app-secret}``: Graph's
    app subscriptions edge, ``data[]`` of ``{object, callback_url, active, fields}``, each field
    ``{name, version}``)."""
    answer = _call("GET", graph_url(app_id, "subscriptions"), f"{app_id}|{app_secret}")
    found: set[str] = set()
    for item in answer.get("data") or []:
        if not isinstance(item, dict) or item.get("object") != "whatsapp_business_account":
            continue
        for field in item.get("fields") or []:
            name = field.get("name") if isinstance(field, dict) else field
            if isinstance(name, str):
                found.add(name)
    return found


def register(phone_number_id: str, token: str, pin: str) -> None:
    """Register the number on the Cloud API with its two-step verification PIN
    (POST /{phone-number-id}/register {"messaging_product": "whatsapp", "pin"}, answered
    ``{"success": true}``; Meta's OpenAPI, registerWhatsAppBusinessPhoneNumber). The PIN goes in
    the body only, never into a log line or an error message."""
    body = {"messaging_product": "whatsapp", "pin": pin}
    answer = _call("POST", graph_url(phone_number_id, "register"), token, json=body)
    if answer.get("success") is not True:
        raise GraphRefused(None, "Meta did not confirm the registration of the number.", 200)


def exchange_code(code: str, app_id: str, app_secret: str) -> str:
    """Exchange an Embedded Signup code for the business's token (GET /oauth/access_token with
    client_id, client_secret and code)."""
    params = {"client_id": app_id, "client_secret": app_secret, "code": code}
    answer = _call("GET", graph_url("oauth", "access_token"), None, params=params)
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise GraphRefused(None, "Meta answered the code exchange without an access token.", 200)
    return token
