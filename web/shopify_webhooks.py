"""``POST /webhooks/shopify``: every Shopify topic, the compliance topics too.

Before Shopify hears 200 (it wants it within 5 seconds, and retries anything else for hours):
check the HMAC over the raw bytes, store the body and its delivery headers in the inbox, make
sure a drain is pending. A bad or missing HMAC gets 401 and nothing is stored (Shopify's app
review sends exactly that to the compliance endpoints).
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, request
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from core import inbox
from core.db import get_engine
from core.shopify import signature
from core.shopify.drain import API_VERSION, EVENT_ID, SHOP_DOMAIN, SOURCE, TOPIC, TRIGGERED_AT, WEBHOOK_ID
from jobs.shopify import request_shopify_drain
from web.webhook_bodies import plain, raw_body_within

log = logging.getLogger(__name__)
blueprint = Blueprint("shopify_webhooks", __name__)

# Shopify's REST bodies are small; a customer with many addresses stays far below this.
MAX_BODY_BYTES = 1024 * 1024
STORED_HEADERS = (TOPIC, SHOP_DOMAIN, WEBHOOK_ID, EVENT_ID, TRIGGERED_AT, API_VERSION, "Content-Type")
# After Redis fails, skip it for this long: the periodic sweeper queues what was stored.
REDIS_PAUSE_S = 5.0

_redis_paused_until: dict[str, float] = {}


@blueprint.post("/webhooks/shopify")
def receive() -> Response:
    body = raw_body_within(MAX_BODY_BYTES)
    if isinstance(body, Response):
        return body
    secrets = current_app.config["SETTINGS"].shopify_api_secrets
    if not any(signature.is_valid(secret, body, request.headers.get(signature.HEADER)) for secret in secrets):
        return plain("bad signature", 401)
    topic = request.headers.get(TOPIC, "").strip()
    if not topic or not request.headers.get(SHOP_DOMAIN):
        return plain(f"{TOPIC} and {SHOP_DOMAIN} are required", 400)
    headers = {name: request.headers[name] for name in STORED_HEADERS if name in request.headers}
    try:
        with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            inbox.store(connection, SOURCE, body, headers=headers, topic=topic[:128])
    except (DBAPIError, PoolTimeout) as error:
        log.error("could not store a shopify webhook: %s", type(error).__name__)
        return plain("temporarily unavailable", 503)  # not stored, so not acknowledged
    _request_drain()
    return plain("", 200)


def _request_drain() -> None:
    url = current_app.config["SETTINGS"].redis_url or ""
    if time.monotonic() < _redis_paused_until.get(url, 0.0):
        return
    try:
        request_shopify_drain()
    except RedisError as error:
        _redis_paused_until[url] = time.monotonic() + REDIS_PAUSE_S
        log.warning("stored a shopify webhook but could not queue a drain (%s)", type(error).__name__)
