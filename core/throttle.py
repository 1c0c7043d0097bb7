"""The send cap of a Meta phone number, shared by every worker: one small bucket in Redis.

Meta allows a phone number a fixed number of messages per second (80 by default, up to 1,000)
and answers 130429 above it. Dispatch may run in many processes on many hosts, so the cap is
kept in Redis, per phone number, by atomic scripts on Redis's own clock (workers on hosts with
skewed clocks still agree).

The bucket is the generic cell rate algorithm: a "theoretical arrival time" (TAT) that every
granted send pushes one interval on, and a send may go now only while the TAT is at most a
small tolerance ahead of now. A caller asks for several sends at once and gets as many as may
go *now* (never a slot in the future), so one Redis call covers a group of sends and nobody
sleeps on a booked slot that a busy CPU would make it miss or bunch. What that buys:

- The cap holds across workers, whatever the number of callers: in any window of T seconds
  the bucket grants at most ``burst + T / interval`` sends. Intervals are paced 3% under the
  cap and the burst is 1% of it, so no one-second window of grants holds more than 98% of the
  cap; the 2% left covers the network and a busy CPU between the grant and Meta's door, where
  Meta counts (measured on a loaded machine, that delay varies by up to about 25 ms).
- Nothing is booked ahead, so a caller that is slow to come back loses nothing it must make up
  for later with a burst; the bucket only stops filling after ``burst`` sends' worth of time
  without anyone asking (callers come back sooner: ``Grant.wait_s``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

# KEYS[1] the TAT (µs, Redis clock); ARGV: interval (µs), burst, wanted, refill (sends).
# Answers {sends granted now, µs until ``refill`` sends could be granted, now (µs)}.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local tolerance = (tonumber(ARGV[2]) - 1) * interval
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local free = math.floor((now + tolerance - tat) / interval) + 1
local granted = math.max(math.min(tonumber(ARGV[3]), free), 0)
if granted > 0 then
  tat = tat + granted * interval
  local keep_ms = 60000 + math.floor((tat - now) / 1000)
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', keep_ms)
end
local wait = math.max(tat + (tonumber(ARGV[4]) - 1) * interval - tolerance - now, 0)
return {granted, wait, now}
"""

# KEYS[1] the TAT; ARGV: pause (µs), interval (µs), burst. No send is granted before now + pause.
_PAUSE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local until_at = now + tonumber(ARGV[1]) + (tonumber(ARGV[3]) - 1) * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_at > tat then
  local keep_ms = 60000 + math.floor((until_at - now) / 1000)
  redis.call('SET', KEYS[1], string.format('%d', until_at), 'PX', keep_ms)
end
return 0
"""


@dataclass(frozen=True)
class Grant:
    count: int  # sends that may go now
    wait_s: float  # when to ask again: the seconds until ``refill`` more could be granted
    at_us: int  # when they were granted, on Redis's clock (µs)


@dataclass
class PhoneNumberThrottle:
    redis: Redis
    phone_number_id: str
    messages_per_second: int  # Meta's cap for the number
    # Meta counts arrivals, and a send can be held up between its grant and Meta (the network,
    # a busy CPU), landing in the next second with later ones: sends are paced 3% under the cap
    # and the burst is 1% of it, so grants stay within 98% of the cap in any second.
    pace: float = 0.97
    burst_share: float = 0.01

    def __post_init__(self) -> None:
        if not 1 <= self.messages_per_second <= 1000:
            raise ValueError("messages_per_second must be between 1 and 1000")
        self._take = self.redis.register_script(_TAKE)
        self._pause = self.redis.register_script(_PAUSE)

    @property
    def key(self) -> str:
        return f"throttle:meta:{self.phone_number_id}"

    @property
    def interval_us(self) -> int:
        paced = max(self.messages_per_second * self.pace, 1.0)
        return math.ceil(1_000_000 / paced)  # rounded up: never faster than paced

    @property
    def burst(self) -> int:
        """The most sends granted at once after a quiet spell (at least one)."""
        return max(int(self.messages_per_second * self.burst_share), 1)

    @property
    def refill(self) -> int:
        """How many sends a caller waits to accumulate before asking again: half the burst,
        so a caller that comes back a little late still finds the bucket not yet full."""
        return max(self.burst // 2, 1)

    async def take(self, wanted: int) -> Grant:
        """Grant up to ``wanted`` sends now (none booked for later), and say when to ask again."""
        args = [self.interval_us, self.burst, max(wanted, 0), self.refill]
        granted, wait_us, at_us = await self._take(keys=[self.key], args=args)
        return Grant(int(granted), int(wait_us) / 1e6, int(at_us))

    async def pause(self, seconds: float) -> None:
        """Grant nothing before ``seconds`` from now: Meta said the number is over a limit."""
        await self._pause(keys=[self.key], args=[int(seconds * 1e6), self.interval_us, self.burst])
