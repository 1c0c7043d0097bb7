"""What both webhook endpoints (Meta's and Shopify's) share: plain answers, the raw body read
only when it is within the size limit (signatures are over the exact bytes), and the one way a
verified body is stored and acknowledged, with one breaker that skips a failing Redis."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from flask import Response, request
from redis.exceptions import RedisError

from core.inbox.writer import StoreFailed, writer
from core.settings import get_settings

log = logging.getLogger(__name__)

# After Redis fails, requests skip it for this long: a dead Redis host must not make every
# acknowledgement wait for a connect timeout. The inbox sweepers queue what was stored meanwhile.
REDIS_PAUSE_S = 5.0

_redis_paused_until: dict[str, float] = {}


def plain(message: str, status: int) -> Response:
    return Response(message, status=status, mimetype="text/plain")


def raw_body_within(limit: int) -> bytes | Response:
    """The raw request body, or a 413 answer when it is over ``limit`` bytes. The declared
    length is checked first, so an oversized body is refused before it is read."""
    if (request.content_length or 0) > limit:
        return plain("payload too large", 413)
    body = request.get_data(cache=False)
    if len(body) > limit:
        return plain("payload too large", 413)
    return body


def store_and_acknowledge(
    source: str,
    body: bytes,
    headers: Mapping[str, str],
    request_drain: Callable[[], object],
    topic: str | None = None,
    identity: str | None = None,
) -> Response:
    """Store a verified body in the inbox and answer 200 once it is committed; 503 when it could
    not be stored, so the sender retries. The request that wrote a batch then makes sure a drain
    of ``source`` is pending, for every body of its batch."""
    try:
        wrote_batch = writer(source).store(source, body, headers, topic, identity)
    except StoreFailed as error:
        log.error("could not store a %s webhook: %s", source, error)
        return plain("temporarily unavailable", 503)
    if wrote_batch:
        _request_drain(source, request_drain)
    return plain("", 200)


def _request_drain(source: str, request_drain: Callable[[], object]) -> None:
    url = get_settings().redis_url or ""  # no app context on the thin route (web/webhooks/route.py)
    if time.monotonic() < _redis_paused_until.get(url, 0.0):
        return
    try:
        request_drain()
    except RedisError as error:
        _redis_paused_until[url] = time.monotonic() + REDIS_PAUSE_S
        log.warning(
            "stored a %s webhook but could not queue a drain (%s); the sweeper will",
            source,
            type(error).__name__,
        )
