"""The send cap of a Meta phone number, shared by every worker: a token bucket in Redis.

Meta allows a phone number a fixed number of messages per second (80 by default, up to 1,000)
and answers 130429 above it. Dispatch may run in many processes on many hosts, so the cap is
kept in Redis, in one key per phone number, by one atomic script.

The bucket is kept as a "theoretical arrival time" (the generic cell rate algorithm): each send
reserves the next free slot, slots are exactly 1/rate apart, and the caller sleeps until its
slot. So there is no polling and no burst: in any one-second window at most rate + 1 sends can
start, however many workers ask. A caller whose slot would be more than ``max_wait_s`` away
gets no slot (and reserves nothing), so a crowd of callers cannot book the future far ahead.
Redis's own clock is used, so workers on hosts with skewed clocks still agree.
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
    messages_per_second: int
    max_wait_s: float = 1.0
    max_late_s: float = 0.01

    late_slots: int = 0  # slots given up by callers that woke too late (for the job's log)

    def __post_init__(self) -> None:
        if not 1 <= self.messages_per_second <= 1000:
            raise ValueError("messages_per_second must be between 1 and 1000")
        self._reserve = self.redis.register_script(_RESERVE)
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
        """As ``reserve``, also answering the slot itself (µs on Redis's clock)."""
        interval_us = -(-1_000_000 // self.messages_per_second)  # rounded up: never above the cap
        wait_us, slot_us = self._reserve(keys=[self.key], args=[interval_us, int(self.max_wait_s * 1e6)])
        return None if int(wait_us) < 0 else (int(wait_us) / 1e6, int(slot_us))

    def acquire(self, stop=None) -> bool:
        """Block until this caller may send one message. False if ``stop`` (an Event) is set
        while waiting, in which case no slot is held.

        A caller that wakes more than ``max_late_s`` after its slot (a busy CPU, a long pause
        of the process) gives the slot up and takes a new one: sending late would bunch its
        send with those of later slots, and Meta counts arrivals, not our slots. With sends at
        most L late, any one-second window holds at most rate x (1 + L) + 1 of them: 10 ms at
        990 a second (dispatch paces 1% under the cap) is 1,001, leaving the rest of a 2%
        margin to the network between our check and Meta."""
        while stop is None or not stop.is_set():
            wait = self.reserve()
            if wait is None:
                time.sleep(self.max_wait_s / 2)
                continue
            due = time.monotonic() + wait
            if wait > 0:
                time.sleep(wait)
            if time.monotonic() - due <= self.max_late_s:
                return True
            self.late_slots += 1  # approximate under threads; it only feeds a log line
        return False

    def pause(self, seconds: float) -> None:
        """No slot before ``seconds`` from now: Meta said the number is over a limit."""
        self._pause(keys=[self.key], args=[int(seconds * 1e6)])
