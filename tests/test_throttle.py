"""The per-number send cap, kept in Redis: sends are granted several at a time, only for now, a
late caller catches up what it missed, and no second holds more than 98% of the cap, whoever
asks, from any process."""

from __future__ import annotations

import asyncio
import multiprocessing
import time

import pytest
from redis.asyncio import Redis

from core.dispatch.throttle import PhoneNumberThrottle

CAP = 1000


def _take_for(redis_url: str, seconds: float, out) -> None:
    """A lane's pacer in miniature: ask for a burst, note what was granted, wait as told."""

    async def run() -> list[tuple[int, int]]:
        redis = Redis.from_url(redis_url)
        throttle = PhoneNumberThrottle(redis, "pn-shared", CAP)
        grants, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            grant = await throttle.take(throttle.burst)
            if grant.count:
                grants.append((grant.at_us, grant.count))
            await asyncio.sleep(grant.wait_s)
        await redis.aclose()
        return grants

    out.put(asyncio.run(run()))


def _busiest_second(grants: list[tuple[int, int]]) -> int:
    """The most sends granted within any one-second window (Redis's clock)."""
    grants = sorted(grants)
    busiest, start, inside = 0, 0, 0
    for at_us, count in grants:
        inside += count
        while at_us - grants[start][0] >= 1_000_000:
            inside -= grants[start][1]
            start += 1
        busiest = max(busiest, inside)
    return busiest


def test_bulk_grants_to_two_workers_never_exceed_the_cap_in_any_second(service_urls):
    """Two processes asking for a burst at a time share one number for two seconds: no
    one-second window holds more than 98% of the cap, and between them they are granted most
    of what the pace allows."""
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    args = (service_urls["redis_url"], 2.0, out)
    workers = [context.Process(target=_take_for, args=args) for _ in range(2)]
    for worker in workers:
        worker.start()
    grants = [grant for _ in workers for grant in out.get(timeout=60)]
    for worker in workers:
        worker.join(timeout=60)
    assert _busiest_second(grants) <= CAP * 0.98
    span_s = (max(at for at, _ in grants) - min(at for at, _ in grants)) / 1e6
    assert sum(count for _, count in grants) >= 0.5 * CAP * 0.97 * span_s  # a slow machine still gets half


def test_after_a_quiet_spell_one_burst_is_granted_and_the_rest_must_wait(service_urls):
    """Asked for a hundred sends at once, the bucket grants what its tolerance holds (25 ms of
    sends) now and books nothing ahead: the caller is told to come back in about 10 ms."""

    async def scenario() -> None:
        redis = Redis.from_url(service_urls["redis_url"])
        throttle = PhoneNumberThrottle(redis, "pn-1", CAP)
        first = await throttle.take(100)
        assert first.count == throttle.burst == 25
        assert 0 < first.wait_s <= throttle.refill * throttle.interval_us / 1e6 <= 0.01
        second = await throttle.take(100)
        assert second.count <= 1 + (second.at_us - first.at_us) // throttle.interval_us
        await redis.aclose()

    asyncio.run(scenario())


def test_a_caller_that_comes_back_late_still_finds_the_sends_it_missed(service_urls):
    """A worker kept off the CPU for 20 ms loses none of that time's sends: they are granted
    when it asks again (a busy machine would otherwise fall well short of the cap)."""

    async def scenario() -> None:
        redis = Redis.from_url(service_urls["redis_url"])
        throttle = PhoneNumberThrottle(redis, "pn-late", CAP)
        drained = await throttle.take(100)
        await asyncio.sleep(0.02)
        late = await throttle.take(100)
        missed = (late.at_us - drained.at_us) // throttle.interval_us
        assert late.count >= min(missed, throttle.burst) - 1 and late.count >= 15
        await redis.aclose()

    asyncio.run(scenario())


def test_the_log_caps_every_second_whatever_the_pacing_allows(service_urls):
    """With pacing at the full cap and the log at half of it, a caller asking all the time for
    1.3 s is granted at most half the cap in any one second, and is told to wait for the log."""

    async def scenario() -> list[tuple[int, int]]:
        redis = Redis.from_url(service_urls["redis_url"])
        throttle = PhoneNumberThrottle(redis, "pn-log", 100, pace=1.0, log_share=0.5)
        grants, deadline = [], time.monotonic() + 1.3
        while time.monotonic() < deadline:
            grant = await throttle.take(10)
            grants.append((grant.at_us, grant.count))
            await asyncio.sleep(min(grant.wait_s, 0.02))
        await redis.aclose()
        return grants

    grants = asyncio.run(scenario())
    assert _busiest_second(grants) == 50
    assert sum(count for _, count in grants) > 50  # the second window's sends did go


def test_a_pause_grants_nothing_until_it_ends(service_urls):
    """After Meta says the number is over its limit, nothing is granted before the pause ends,
    and the caller is told how long that is."""

    async def scenario() -> None:
        redis = Redis.from_url(service_urls["redis_url"])
        throttle = PhoneNumberThrottle(redis, "pn-2", CAP)
        await throttle.pause(0.3)
        paused = await throttle.take(5)
        assert paused.count == 0 and 0.25 <= paused.wait_s <= 0.31
        await asyncio.sleep(paused.wait_s)
        assert (await throttle.take(5)).count > 0
        await redis.aclose()

    asyncio.run(scenario())


def test_numbers_have_separate_buckets(service_urls):
    """One number's traffic does not slow another's."""

    async def scenario() -> None:
        redis = Redis.from_url(service_urls["redis_url"])
        busy = PhoneNumberThrottle(redis, "pn-busy", 10)
        assert (await busy.take(5)).count == 1  # a cap of 10: sends 103 ms apart, a burst of one
        assert (await busy.take(5)).count == 0
        assert (await PhoneNumberThrottle(redis, "pn-idle", 10).take(5)).count == 1
        await redis.aclose()

    asyncio.run(scenario())


@pytest.mark.parametrize("rate", [0, 1001])
def test_caps_outside_metas_range_are_refused(service_urls, rate):
    """Meta's throughput is 1 to 1,000 messages per second per number."""
    with pytest.raises(ValueError, match="between 1 and 1000"):
        PhoneNumberThrottle(Redis.from_url(service_urls["redis_url"]), "pn", rate)
