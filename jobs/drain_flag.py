"""The Meta drain's pending flag, and the promise it carries, so that a busy web process need not
ask Redis after every commit whether a drain is coming.

The flag means "a drain will look at the inbox after now" (jobs/webhooks.py). Its value adds a
deadline: the time (milliseconds since the epoch) before which the drain holding the flag will
not make its last look. A web process that read a deadline knows, without asking again, that
any body it commits well before that time is seen by a drain: it skips Redis until then. So a
web process costs Redis one call per PROMISE_S instead of one per group commit.

The drain keeps the promise: it takes the flag away and reads the deadline in one step
(``GETDEL``: no web process can extend it afterwards), and waits for that time before its last
look. Every write of the deadline keeps the greatest one (a script, atomic in Redis), so a web
process's promise is never lowered by a later, smaller one. A drain that dies breaks its promise
as it breaks the flag today: the periodic sweeper queues a drain for what was stored meanwhile.
Clocks that disagree by more than CLOCK_MARGIN_S (or one stepped back) can only make a body
wait: for the drain queued by the next POST after the deadline, or for the sweeper; it is in
the inbox, committed, whatever happens here.
"""

from __future__ import annotations

import time

from redis import Redis

DRAIN_PENDING_KEY = "webhooks:meta:drain-pending"
# The flag outlives a lost enqueue, or a drain that died, by this much at most (a working
# drain refreshes it); the sweeper covers the gap.
PENDING_TTL_S = 30
# How far ahead a web process moves the deadline: the most a drain waits, after it let go of the
# flag, before its last look; and about how often each web process asks Redis while busy.
PROMISE_S = 0.3
# A web process trusts a deadline only until this long before it: the clocks of the web and the
# worker hosts (NTP keeps them within milliseconds) may disagree by less than this.
CLOCK_MARGIN_S = 0.1

# KEYS[1] the flag; ARGV: the deadline (ms), the TTL (s), "1" to restart the TTL. Answers
# {1 if the flag was absent (the caller queues a drain) else 0, the deadline now held}.
_MARK_PENDING = """
local held = redis.call('GET', KEYS[1])
if not held then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
    return {1, tonumber(ARGV[1])}
end
local deadline = ARGV[1]
if (tonumber(held) or 0) > tonumber(deadline) then deadline = held end
if ARGV[3] == '1' then
    redis.call('SET', KEYS[1], deadline, 'EX', ARGV[2])
else
    redis.call('SET', KEYS[1], deadline, 'KEEPTTL')
end
return {0, tonumber(deadline)}
"""


def mark_pending(redis: Redis, promise_s: float, *, restart_ttl: bool = False) -> tuple[bool, float]:
    """Set the flag, or move its deadline to at least ``promise_s`` from now. Answer whether the
    flag was absent (the caller must queue a drain) and the deadline it holds (epoch seconds)."""
    deadline_ms = int((time.time() + promise_s) * 1000)
    script = redis.register_script(_MARK_PENDING)  # EVALSHA, loading the script when Redis lacks it
    created, held_ms = script(keys=[DRAIN_PENDING_KEY], args=[deadline_ms, PENDING_TTL_S, int(restart_ttl)])
    return bool(created), held_ms / 1000


def release(redis: Redis) -> float:
    """Take the flag away; answer the deadline it held (epoch seconds, 0 when none)."""
    held = redis.getdel(DRAIN_PENDING_KEY)
    try:
        return int(held) / 1000 if held else 0.0
    except ValueError:
        return 0.0


def keep_promise(deadline: float) -> None:
    """Wait until ``deadline`` (epoch seconds) has passed: a drain's last look comes after it."""
    wait_s = deadline - time.time()
    if wait_s > 0:
        time.sleep(wait_s)


def still_promised(deadline: float) -> bool:
    """Whether a body committed now is certainly seen by the drain that promised ``deadline``."""
    return time.time() < deadline - CLOCK_MARGIN_S
