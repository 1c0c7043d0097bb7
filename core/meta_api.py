"""The WhatsApp Cloud API (Graph API) as dispatch and the launch checks use it: send a template
message, list the account's templates. Plain ``requests``; the access token goes in the
Authorization header and never into a log line or an exception message.

A send ends one of four ways, and dispatch treats each differently:

- ``accepted``: Meta took it and gave a wamid (``message_status`` says whether pacing holds it);
- ``error``: Meta answered with a Graph error (code, title, details) and did not take it;
- ``not_sent``: the request never left (no connection): safe to send again;
- ``unknown``: the request left but no answer came (read timeout, dropped connection, a bare
  5xx, a 2xx without a message id). Meta has no idempotency key, so it may have accepted the
  message: sending it again could message the customer twice. Such a message waits for a
  status webhook instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

from core.settings import get_settings
from core.templates import Template

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 30.0
MAX_TEMPLATE_PAGES = 20
_TITLE_PREFIX = re.compile(r"^\(#\d+\)\s*")


class MetaUnavailable(RuntimeError):
    """Meta could not be asked (network) or refused the request; the message says which."""


@dataclass(frozen=True)
class SendResult:
    kind: Literal["accepted", "error", "not_sent", "unknown"]
    wamid: str | None = None
    message_status: str | None = None  # "accepted" or "held_for_quality_assessment"
    wa_id: str | None = None
    code: str | None = None
    title: str | None = None
    details: str | None = None


def graph_url(*parts: str) -> str:
    settings = get_settings()
    return "/".join([settings.meta_graph_url, settings.meta_api_version, *parts])


def send_request_body(to: str, template: str, language: str, components: list, callback: str) -> dict:
    body = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,  # E.164 with "+": without it Meta would prepend the business's own country code
        "type": "template",
        "template": {"name": template, "language": {"code": language, "policy": "deterministic"}},
        "biz_opaque_callback_data": callback,
    }
    if components:
        body["template"]["components"] = components
    return body


def send_message(http: requests.Session, phone_number_id: str, token: str, body: dict) -> SendResult:
    """POST one message. Never raise for network trouble: return what happened."""
    try:
        response = http.post(
            graph_url(phone_number_id, "messages"),
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        )
    except requests.RequestException as error:
        return SendResult("not_sent" if _never_left(error) else "unknown", details=type(error).__name__)
    return _send_result(response)


def _never_left(error: requests.RequestException) -> bool:
    """True only when no connection was made, so Meta cannot have seen the request."""
    if isinstance(error, requests.ConnectTimeout):
        return True
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(error, requests.ConnectionError) and isinstance(reason, NewConnectionError)


def _send_result(response: requests.Response) -> SendResult:
    payload = _json(response)
    if response.ok and payload and payload.get("messages"):
        message = payload["messages"][0]
        contact = (payload.get("contacts") or [{}])[0]
        return SendResult(
            "accepted",
            wamid=message.get("id"),
            message_status=message.get("message_status") or "accepted",
            wa_id=contact.get("wa_id"),
        )
    error = (payload or {}).get("error")
    if isinstance(error, dict) and error.get("code") is not None:
        return SendResult(
            "error",
            code=str(error["code"]),
            title=_TITLE_PREFIX.sub("", str(error.get("message") or "")) or None,
            details=(error.get("error_data") or {}).get("details"),
        )
    if response.ok or response.status_code >= 500:
        # A 2xx without a message id is no proof either way, like a timeout: Meta may have taken
        # it, so it is never sent again; a status webhook or the monitor settles it.
        return SendResult("unknown", details=f"HTTP {response.status_code} without a message id")
    return SendResult(
        "error", code="1", details=f"HTTP {response.status_code} without a Graph API error body"
    )


def _json(response: requests.Response) -> dict | None:
    try:
        payload = response.json()
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def list_templates(waba_id: str, token: str, name: str | None = None) -> list[Template]:
    """Every template of the WhatsApp Business Account (following Meta's paging), optionally
    only those of one name. Raises MetaUnavailable with a sentence a merchant can act on."""
    url: str | None = graph_url(waba_id, "message_templates")
    params: dict | None = {"limit": 100, **({"name": name} if name else {})}
    templates: list[Template] = []
    with requests.Session() as http:
        for _ in range(MAX_TEMPLATE_PAGES):
            if url is None:
                break
            payload = _get_page(http, url, params, token)
            templates += [Template.from_meta(item) for item in payload.get("data") or []]
            url, params = _next_page((payload.get("paging") or {}).get("next")), None
    return [t for t in templates if name is None or t.name == name]


def _next_page(url: object) -> str | None:
    """Meta's ``paging.next`` (it carries the cursor), only when it is on the Graph API's own
    scheme, host and port: the bearer token goes with it, so any other address is refused."""
    if not url:
        return None
    graph = urlsplit(get_settings().meta_graph_url)
    target = urlsplit(str(url))
    if (target.scheme, target.netloc) != (graph.scheme, graph.netloc) or target.username:
        raise MetaUnavailable("WhatsApp's template list pointed its next page at another host.")
    return str(url)


def _get_page(http: requests.Session, url: str, params: dict | None, token: str) -> dict:
    try:
        response = http.get(
            url,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
        )
    except requests.RequestException as error:
        raise MetaUnavailable(f"WhatsApp could not be reached ({type(error).__name__}).") from None
    payload = _json(response)
    if not response.ok or payload is None:
        error = (payload or {}).get("error") or {}
        code = error.get("code")
        reason = _TITLE_PREFIX.sub("", str(error.get("message") or f"HTTP {response.status_code}"))
        raise MetaUnavailable(f"WhatsApp refused to list the templates ({code or 'no code'}: {reason}).")
    return payload
