"""The send cap of a Meta phone number, shared by every worker: two small structures in Redis.

Meta allows a phone number a fixed number of messages per second (80 by default, up to 1,000)
and answers 130429 above it. Dispatch may run in many processes on many hosts, so the cap is
kept in Redis, per phone number, by atomic scripts on Redis's own clock (workers on hosts with
skewed clocks still agree).

- Pacing: a "theoretical arrival time" (the generic cell rate algorithm). Each send reserves the
  next free slot, slots are evenly spaced a little under the cap, and the caller sleeps until
  its slot: no polling, no bursts. A caller whose slot would be more than ``max_wait_s`` away
  gets none (and books nothing), so a crowd of callers cannot book the future far ahead.
- The guarantee: a sliding one-second log of the sends actually let through, checked when the
  caller wakes. A caller that woke late (a busy CPU, a paused process) would otherwise bunch
  with those of later slots; the log lets it send only if fewer than the cap's worth of sends
  went out in the second before, so however late anyone wakes, no one-second window of our
  checks holds more than the cap. A caller more than ``max_late_s`` late does not even ask: it
  takes a new slot, so that late callers do not leave together in a burst.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from redis import Redis

# KEYS[1] bucket; ARGV: interval (µs), max wait (µs).
# Answers {wait before the reserved slot (µs), the slot (µs, Redis clock)}, or {-1, 0} when none.
_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(tat, now)
if slot - now > tonumber(ARGV[2]) then
  return {-1, 0}
end
local keep_ms = 60000 + math.floor((slot - now) / 1000)
redis.call('SET', KEYS[1], string.format('%d', slot + interval), 'PX', keep_ms)
return {slot - now, slot}
"""

# KEYS[1] the log (a sorted set of send times), KEYS[2] a counter for unique members;
# ARGV[1] the cap. Answers 0 when the send is let through (and logged), otherwise the wait (µs)
# until the oldest logged send leaves the one-second window.
_LET_THROUGH = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 1000000)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, redis.call('INCR', KEYS[2]))
  redis.call('PEXPIRE', KEYS[1], 2000)
  redis.call('PEXPIRE', KEYS[2], 2000)
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(tonumber(oldest[2]) + 1000000 - now, 1)
"""

# KEYS[1] bucket; ARGV[1]: pause (µs). Pushes the next free slot to at least now + pause.
_PAUSE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local until_at = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_at > tat then
  local keep_ms = 60000 + math.floor(tonumber(ARGV[1]) / 1000)
  redis.call('SET', KEYS[1], string.format('%d', until_at), 'PX', keep_ms)
end
return 0
"""


@dataclass
class PhoneNumberThrottle:
    redis: Redis
    phone_number_id: str
    messages_per_second: int  # Meta's cap for the number
    max_wait_s: float = 1.0
    # Meta counts arrivals. A send can be held up between our check and Meta (the network, a
    # busy CPU after the check) and land in the next second with later ones, so the log lets
    # through 1% under the cap, and slots are paced 2% under it.
    log_share: float = 0.99
    pace: float = 0.98
    # A caller that wakes later than this after its slot takes a new slot instead: letting many
    # late callers through at once would send a burst, which the network then smears across
    # Meta's one-second windows.
    max_late_s: float = 0.025

    # For the job's log (approximate under threads): late wake-ups, and wake-ups the log refused.
    late: int = 0
    held_back: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.messages_per_second <= 1000:
            raise ValueError("messages_per_second must be between 1 and 1000")
        self._reserve = self.redis.register_script(_RESERVE)
        self._let_through = self.redis.register_script(_LET_THROUGH)
        self._pause = self.redis.register_script(_PAUSE)

    @property
    def key(self) -> str:
        return f"throttle:meta:{self.phone_number_id}"

    def reserve(self) -> float | None:
        """Reserve the next send slot: the seconds to wait before sending, or None if the
        next free slot is further away than ``max_wait_s`` (nothing reserved then)."""
        reserved = self.reserve_slot()
        return None if reserved is None else reserved[0]

    def reserve_slot(self) -> tuple[float, int] | None:
        """Reserve as ``reserve`` does, and also return the slot itself (µs on Redis's clock)."""
        paced = max(self.messages_per_second * self.pace, 1.0)
        interval_us = int(-(-1_000_000 // paced))  # rounded up: never faster than paced
        wait_us, slot_us = self._reserve(keys=[self.key], args=[interval_us, int(self.max_wait_s * 1e6)])
        return None if int(wait_us) < 0 else (int(wait_us) / 1e6, int(slot_us))

    def let_through(self) -> float:
        """Log a send now if the last second holds fewer than the cap (less the log's share):
        0. Otherwise nothing is logged and the answer is the seconds until a send leaves the
        window."""
        keys = [f"{self.key}:sent", f"{self.key}:seq"]
        limit = max(int(self.messages_per_second * self.log_share), 1)
        return int(self._let_through(keys=keys, args=[limit])) / 1e6

    def acquire(self, stop=None) -> bool:
        """Block until this caller may send one message (and count it as sent). False if
        ``stop`` (an Event) is set while waiting."""
        while stop is None or not stop.is_set():
            wait = self.reserve()
            if wait is None:
                time.sleep(self.max_wait_s / 2)
                continue
            due = time.monotonic() + wait
            if wait > 0:
                time.sleep(wait)
            if time.monotonic() - due > self.max_late_s:
                self.late += 1
                continue
            refused_for = self.let_through()
            if not refused_for:
                return True
            self.held_back += 1
            time.sleep(refused_for)  # then take a fresh slot
        return False

    def pause(self, seconds: float) -> None:
        """No slot before ``seconds`` from now: Meta said the number is over a limit."""
        self._pause(keys=[self.key], args=[int(seconds * 1e6)])
