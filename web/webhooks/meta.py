"""``GET /webhooks/meta``: Meta's verification handshake.

Its webhooks, ``POST /webhooks/meta``, are answered in front of Flask, with their checks (size,
signature) written once: web/webhooks/route.py. A POST does only what must happen before Meta
hears 200: check the size and the signature over the raw bytes, store the body in the inbox,
make sure a drain is pending. No parsing, no per-status work: Meta's latency standard is a
median under 250 ms, and anything other than exactly 200 is retried with backoff for up to 7
days, delaying every status behind it.
"""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, request

from core.settings import get_settings
from web.webhooks.bodies import plain

blueprint = Blueprint("meta_webhooks", __name__)


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
