"""The send cap of a Meta phone number, shared by every worker: two small structures in Redis.

Meta allows a phone number a fixed number of messages per second (80 by default, up to 1,000)
and answers 130429 above it. Dispatch may run in many processes on many hosts, so the cap is
kept in Redis, per phone number, by one atomic script on Redis's own clock (workers on hosts
with skewed clocks still agree). A caller asks for several sends at once and is granted as many
as may go *now*, never a slot in the future, so one Redis call covers a group of sends and
nobody sleeps on a booked slot that a busy CPU would make it miss or bunch.

- Pacing: the generic cell rate algorithm. A "theoretical arrival time" (TAT) moves one
  interval on per send granted, the intervals 3% under the cap; a send may go while the TAT is
  at most a tolerance (25 ms) ahead of now. A caller kept off the CPU for a moment therefore
  finds the sends it missed still there when it comes back, up to 25 ms of them, instead of
  losing them: on a busy machine that is what keeps the rate near the cap (with 10 ms, 5% of
  the cap was lost on this machine under load). Not more: a catch-up is a burst, and Meta
  counts bursts where they land.
- The guarantee: a log of the sends granted in the last second (a sorted set of grants with
  their counts). A grant never takes it past 98% of the cap, so however the pacing's catch-up
  bunches, no one-second window of grants holds more; the 2% left covers the network and a
  busy CPU between the grant and Meta's door, where Meta counts (on this loaded machine that
  delay was seen to vary by up to about 30 ms).

Callers are told when to ask again (``Grant.wait_s``): when about 10 ms of sends have refilled
(a lane's group of sends, one Redis call each: fewer calls cost less CPU, and the tolerance
covers a caller that comes back late), or when the log's oldest grant leaves the window.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from redis.asyncio import Redis

# KEYS: [1] the TAT (µs, Redis clock), [2] the log (score: µs, member: "<seq>:<count>"),
# [3] the log's total, [4] a sequence for unique members.
# ARGV: interval (µs), tolerance (µs), the log's limit, wanted, refill (sends).
# Answers {sends granted now, µs until the caller should ask again, now (µs)}.
_TAKE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2])
local window_start = now - 1000000
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', window_start)
if #expired > 0 then
  local gone = 0
  for _, member in ipairs(expired) do
    gone = gone + tonumber(string.match(member, ':(%d+)$'))
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', window_start)
  redis.call('DECRBY', KEYS[3], gone)
end
local in_window = tonumber(redis.call('GET', KEYS[3]) or '0')
local tat = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local paced = math.floor((now + tolerance - tat) / interval) + 1
local logged = tonumber(ARGV[3]) - in_window
local granted = math.max(math.min(tonumber(ARGV[4]), paced, logged), 0)
if granted > 0 then
  tat = tat + granted * interval
  redis.call('SET', KEYS[1], string.format('%d', tat), 'PX', 60000 + math.floor((tat - now) / 1000))
  local seq = redis.call('INCR', KEYS[4])
  redis.call('ZADD', KEYS[2], now, seq .. ':' .. granted)
  redis.call('INCRBY', KEYS[3], granted)
  for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], 2000) end
end
local wait = math.max(tat + (tonumber(ARGV[5]) - 1) * interval - tolerance - now, 0)
if granted >= logged then
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if oldest[2] then wait = math.max(wait, tonumber(oldest[2]) + 1000000 - now + 1) end
end
return {granted, wait, now}
"""

# KEYS[1] the TAT; ARGV: pause (µs), tolerance (µs). No send is paced before now + pause.
_PAUSE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local until_at = now + tonumber(ARGV[1]) + tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if until_at > tat then
  redis.call('SET', KEYS[1], string.format('%d', until_at), 'PX', 60000 + math.floor((until_at - now) / 1000))
end
return 0
"""


@dataclass(frozen=True)
class Grant:
    count: int  # sends that may go now
    wait_s: float  # when to ask again
    at_us: int  # when they were granted, on Redis's clock (µs)


@dataclass
class PhoneNumberThrottle:
    redis: Redis
    phone_number_id: str
    messages_per_second: int  # Meta's cap for the number
    pace: float = 0.97  # of the cap: the steady rate
    log_share: float = 0.98  # of the cap: the most granted in any one second
    tolerance_s: float = 0.025  # how much missed pacing a late caller may still catch up
    refill_s: float = 0.01  # how much refill a caller waits for before asking again

    def __post_init__(self) -> None:
        if not 1 <= self.messages_per_second <= 1000:
            raise ValueError("messages_per_second must be between 1 and 1000")
        self._take = self.redis.register_script(_TAKE)
        self._pause = self.redis.register_script(_PAUSE)

    @property
    def keys(self) -> list[str]:
        # One hash tag: a Redis Cluster keeps a number's keys together, as its script needs.
        bucket = f"throttle:meta:{{{self.phone_number_id}}}"
        return [bucket, f"{bucket}:log", f"{bucket}:in_window", f"{bucket}:seq"]

    @property
    def interval_us(self) -> int:
        paced = max(self.messages_per_second * self.pace, 1.0)
        return math.ceil(1_000_000 / paced)  # rounded up: never faster than paced

    @property
    def limit(self) -> int:
        """The most sends granted in any one second."""
        return max(int(self.messages_per_second * self.log_share), 1)

    @property
    def burst(self) -> int:
        """The most sends granted at once: what the tolerance holds."""
        return int(self.tolerance_s * 1e6 // self.interval_us) + 1

    @property
    def refill(self) -> int:
        return max(int(self.refill_s * 1e6 // self.interval_us), 1)

    async def take(self, wanted: int) -> Grant:
        """Grant up to ``wanted`` sends now (none booked for later), and say when to ask again."""
        tolerance_us = (self.burst - 1) * self.interval_us
        args = [self.interval_us, tolerance_us, self.limit, max(wanted, 0), self.refill]
        granted, wait_us, at_us = await self._take(keys=self.keys, args=args)
        return Grant(int(granted), int(wait_us) / 1e6, int(at_us))

    async def pause(self, seconds: float) -> None:
        """Grant nothing before ``seconds`` from now: Meta said the number is over a limit."""
        tolerance_us = (self.burst - 1) * self.interval_us
        await self._pause(keys=self.keys[:1], args=[int(seconds * 1e6), tolerance_us])
