"""``GET``/``POST /webhooks/meta``: Meta's verification handshake and its webhooks.

A POST does only what must happen before Meta hears 200: check the size and the signature over
the raw bytes, store the body in the inbox, make sure a drain is pending. No parsing, no
per-status work: Meta's latency standard is a median under 250 ms, and anything other than
exactly 200 is retried with backoff for up to 7 days, delaying every status behind it.
"""

from __future__ import annotations

import hmac
import logging
import time

from flask import Blueprint, Response, current_app, request
from redis.exceptions import RedisError

from core.inbox_writer import StoreFailed, writer
from core.meta_webhooks import signature
from core.meta_webhooks.drain import SOURCE
from core.settings import Settings
from jobs.webhooks import request_drain
from web.webhook_bodies import plain, raw_body_within

log = logging.getLogger(__name__)
blueprint = Blueprint("meta_webhooks", __name__)

# Meta's bodies are "up to 3 MB"; read as MiB so that no body Meta may send is refused.
MAX_BODY_BYTES = 3 * 1024 * 1024
# After Redis fails, POSTs skip it for this long: a dead Redis host must not make every
# acknowledgement wait for a connect timeout. The inbox sweeper queues what they stored.
REDIS_PAUSE_S = 5.0
STORED_HEADERS = ("Content-Type", "User-Agent", signature.HEADER)

_redis_paused_until: dict[str, float] = {}


def _settings() -> Settings:
    return current_app.config["SETTINGS"]


@blueprint.get("/webhooks/meta")
def verify_subscription() -> Response:
    """Meta's handshake: echo ``hub.challenge`` when the mode and our verify token match."""
    token = _settings().meta_verify_token
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
    if not signature.is_valid(_settings().meta_app_secret, body, request.headers.get(signature.HEADER)):
        return plain("bad signature", 401)
    headers = {name: request.headers[name] for name in STORED_HEADERS if name in request.headers}
    try:
        writer(SOURCE, after_commit=_request_drain).store(SOURCE, body, headers)
    except StoreFailed as error:
        # Not stored, so not acknowledged: Meta retries it.
        log.error("could not store a meta webhook: %s", error)
        return plain("temporarily unavailable", 503)
    return plain("", 200)


def _request_drain() -> None:
    url = _settings().redis_url or ""
    if time.monotonic() < _redis_paused_until.get(url, 0.0):
        return
    try:
        request_drain()
    except RedisError as error:
        _redis_paused_until[url] = time.monotonic() + REDIS_PAUSE_S
        log.warning(
            "stored a meta webhook but could not queue a drain (%s); the sweeper will", type(error).__name__
        )
