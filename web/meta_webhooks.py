"""``GET``/``POST /webhooks/meta``: Meta's verification handshake and its webhooks.

A POST does only what must happen before Meta hears 200: check the size and the signature over
the raw bytes, store the body in the inbox, make sure a drain is pending. No parsing, no
per-status work: Meta's latency standard is a median under 250 ms, and anything other than
exactly 200 is retried with backoff for up to 7 days, delaying every status behind it.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

from core.meta_webhooks import signature
from core.meta_webhooks.drain import SOURCE
from core.settings import get_settings
from jobs.webhooks import request_drain
from web.webhook_bodies import plain, raw_body_within, store_and_acknowledge

blueprint = Blueprint("meta_webhooks", __name__)

# Meta's bodies are "up to 3 MB"; read as MiB so that no body Meta may send is refused.
MAX_BODY_BYTES = 3 * 1024 * 1024
STORED_HEADERS = ("Content-Type", "User-Agent", signature.HEADER)


@blueprint.get("/webhooks/meta")
def verify_subscription() -> Response:
    """Meta's handshake: echo ``hub.challenge`` when the mode and our verify token match."""
    token = get_settings().meta_verify_token
    given = request.args.get("hub.verify_token", "")
    challenge = request.args.get("hub.challenge")
    if (
        request.args.get("hub.mode") == "subscribe"
        and token
        and challenge is not None
        and hmac.compare_digest(given.encode(), token.encode())
    ):
        return plain(challenge, 200)
    return plain("verification refused", 403)


@blueprint.post("/webhooks/meta")
def receive() -> Response:
    body = raw_body_within(MAX_BODY_BYTES)
    if isinstance(body, Response):
        return body
    if not signature.is_valid(get_settings().meta_app_secret, body, request.headers.get(signature.HEADER)):
        return plain("bad signature", 401)
    headers = {name: request.headers[name] for name in STORED_HEADERS if name in request.headers}
    return store_and_acknowledge(SOURCE, body, headers, request_drain)
