"""At most ``EXPORTS_PER_SHOP`` CSV exports of one shop at once.

An export holds a web thread and, while it writes, two PostgreSQL backends (web/exports.py) for
as long as its client downloads: a shop that starts ten at once would hold the database's
connections from every other shop. The next export answers 429 with Retry-After.

A shop's slots are the members of one sorted set in Redis, each scored by when its lease ends
(Redis's own clock). Taking a slot first drops the expired ones, so a web process that died in
the middle of an export holds its slot no longer than a lease (``EXPORT_LEASE_S`` of the app's
config, 5 minutes by default), and every chunk sent renews it. A slot is given back when the
stream ends and again (harmlessly) when the server closes the answer, which a WSGI server does
when the client goes away, even before the first byte.

Without Redis, each web process counts its own exports: the limit then holds per process, and
an export is never refused because Redis is down.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass

from flask import current_app
from redis import RedisError
from werkzeug.exceptions import TooManyRequests

from core.redis import get_redis

logger = logging.getLogger(__name__)

EXPORTS_PER_SHOP = 2
DEFAULT_LEASE_S = 300
RETRY_AFTER_S = 30

# KEYS[1] the shop's set; ARGV: lease (ms), limit, slot id. 1 when the slot is taken.
_TAKE = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[1]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
"""
# KEYS[1] the shop's set; ARGV: lease (ms), slot id. Renews only a slot still held.
_RENEW = """
local now = redis.call('TIME')
local now_ms = now[1] * 1000 + math.floor(now[2] / 1000)
if redis.call('ZADD', KEYS[1], 'XX', 'CH', now_ms + tonumber(ARGV[1]), ARGV[2]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return 1
"""

_local_lock = threading.Lock()
_local_exports: Counter[int] = Counter()  # shop id -> exports of this process, without Redis


class TooManyExports(TooManyRequests):
    error_code = "too_many_exports"

    def __init__(self):
        super().__init__(
            f"This shop is already running {EXPORTS_PER_SHOP} exports; "
            "download this one when one of them has finished.",
            retry_after=RETRY_AFTER_S,
        )


def _key(shop_id: int) -> str:
    return f"csv-exports:{shop_id}"


def _lease_ms() -> int:
    return int(current_app.config.get("EXPORT_LEASE_S", DEFAULT_LEASE_S) * 1000)


@dataclass
class ExportSlot:
    """One export's slot; ``release`` may be called any number of times."""

    shop_id: int
    slot_id: str | None  # None: counted in this process, Redis being down
    lease_ms: int
    released: bool = False

    def renew(self) -> None:
        if self.slot_id is None or self.released:
            return
        with suppress(RedisError):  # failing, the lease runs out instead; the export goes on
            get_redis().eval(_RENEW, 1, _key(self.shop_id), self.lease_ms, self.slot_id)

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        if self.slot_id is None:
            with _local_lock:
                _local_exports[self.shop_id] -= 1
            return
        with suppress(RedisError):  # failing, the lease runs out instead
            get_redis().zrem(_key(self.shop_id), self.slot_id)


def take_export_slot(shop_id: int) -> ExportSlot:
    """A slot for one export of the shop, or TooManyExports (429) when all are taken."""
    lease_ms = _lease_ms()
    slot_id = uuid.uuid4().hex
    try:
        taken = get_redis().eval(_TAKE, 1, _key(shop_id), lease_ms, EXPORTS_PER_SHOP, slot_id)
    except RedisError as error:
        logger.warning("export slots without Redis (%s): counted by this process", error)
        return _take_local_slot(shop_id, lease_ms)
    if not taken:
        raise TooManyExports()
    return ExportSlot(shop_id, slot_id, lease_ms)


def _take_local_slot(shop_id: int, lease_ms: int) -> ExportSlot:
    with _local_lock:
        if _local_exports[shop_id] >= EXPORTS_PER_SHOP:
            raise TooManyExports()
        _local_exports[shop_id] += 1
    return ExportSlot(shop_id, None, lease_ms)


def holding(slot: ExportSlot, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """``chunks``, renewing the slot's lease at each one and giving the slot back at the end
    (or when the server closes the stream early)."""
    try:
        for chunk in chunks:
            slot.renew()
            yield chunk
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
        slot.release()
