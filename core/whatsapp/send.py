"""Sending template messages through the WhatsApp Cloud API, as dispatch does at the number's cap.

One ``MessageSender`` per dispatch lane: an asyncio HTTP client (aiohttp) whose pool keeps a
connection alive for every send in flight, so hundreds of sends can wait on Meta at once without
a thread each. The access token goes in the Authorization header and never into a log line, an
exception message or the sender's repr.

A send ends one of four ways, and dispatch treats each differently:

- ``accepted``: Meta took it and gave a wamid (``message_status`` says whether pacing holds it);
- ``error``: Meta answered with a Graph error (code, title, details) and did not take it;
- ``not_sent``: the request never left (no connection could be made): safe to send again;
- ``unknown``: the request left but no answer came (read timeout, dropped connection, a bare
  5xx, a 2xx without a message id). Meta has no idempotency key, so it may have accepted the
  message: sending it again could message the customer twice. Such a message waits for a
  status webhook instead. For the same reason a request is never retried by the client itself
  (aiohttp retries a reused connection only for idempotent methods, never a POST).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

import aiohttp

from core.whatsapp.graph_api import CONNECT_TIMEOUT_S, READ_TIMEOUT_S, TITLE_PREFIX, graph_url, json_object


@dataclass(frozen=True)
class SendResult:
    kind: Literal["accepted", "error", "not_sent", "unknown"]
    wamid: str | None = None
    message_status: str | None = None  # "accepted" or "held_for_quality_assessment"
    wa_id: str | None = None
    code: str | None = None
    title: str | None = None
    details: str | None = None


def messages_url(phone_number_id: str) -> str:
    """Return the Graph API endpoint that sends the number's messages."""
    return graph_url(phone_number_id, "messages")


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


class MessageSender:
    """POST send bodies to one number's messages endpoint over a pool of kept-alive connections.
    Use as ``async with MessageSender(...) as sender`` inside a running event loop."""

    def __init__(self, url: str, token: str, max_in_flight: int) -> None:
        self._url = url
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self._max_in_flight = max_in_flight
        self._http: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:  # the headers hold the token
        return f"MessageSender({self._url!r})"

    async def __aenter__(self) -> MessageSender:
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._max_in_flight, limit_per_host=0),
            # Nothing a response sets may change what the next request sends.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Honour HTTP(S)_PROXY and NO_PROXY as every other outbound call (requests) does.
            trust_env=True,
            timeout=aiohttp.ClientTimeout(
                total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=READ_TIMEOUT_S
            ),
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.close()

    async def send(self, body: dict) -> SendResult:
        """POST one message. Never raise for network trouble: return what happened."""
        assert self._http is not None, "use MessageSender as an async context manager"
        try:
            async with self._http.post(
                self._url, data=json.dumps(body), headers=self._headers, allow_redirects=False
            ) as response:
                status, raw = response.status, await response.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as error:
            # Raised only while a new connection is made: no byte of the request has left.
            return SendResult("not_sent", details=type(error).__name__)
        except (aiohttp.ClientError, TimeoutError) as error:
            return SendResult("unknown", details=type(error).__name__)
        return send_result(status, json_object(raw))


def send_result(status: int, payload: dict | None) -> SendResult:
    """Read Meta's answer to a send: its HTTP status and JSON body (None if it had none)."""
    ok = 200 <= status < 300
    if ok and payload and payload.get("messages"):
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
            title=TITLE_PREFIX.sub("", str(error.get("message") or "")) or None,
            details=(error.get("error_data") or {}).get("details"),
        )
    if ok or status >= 500:
        # A 2xx without a message id is no proof either way, like a timeout: Meta may have taken
        # it, so it is never sent again; a status webhook or the monitor settles it.
        return SendResult("unknown", details=f"HTTP {status} without a message id")
    return SendResult("error", code="1", details=f"HTTP {status} without a Graph API error body")
