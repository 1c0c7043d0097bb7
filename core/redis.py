"""The Redis connection for queues, locks and rate limits, made lazily from ``REDIS_URL``."""

from __future__ import annotations

from redis import Redis

from core.settings import get_settings

_clients: dict[str, Redis] = {}


def get_redis(url: str | None = None) -> Redis:
    url = url or get_settings().redis_url
    if not url:
        raise RuntimeError("REDIS_URL is not set and no embedded server was started")
    client = _clients.get(url)
    if client is None:
        client = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        _clients[url] = client
    return client
