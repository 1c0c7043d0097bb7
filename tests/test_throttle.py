"""The per-number send cap, kept in Redis: slots are 1/rate apart whoever asks, from any process."""

from __future__ import annotations

import math
import multiprocessing
import time

import pytest

from core.redis import get_redis
from core.throttle import PhoneNumberThrottle


def _reserve_many(redis_url: str, rate: int, count: int, out) -> None:
    throttle = PhoneNumberThrottle(get_redis(redis_url), "pn-shared", rate, max_wait_s=60)
    out.put([throttle.reserve_slot()[1] for _ in range(count)])


def test_slots_from_many_processes_are_never_closer_than_the_interval(service_urls):
    """Four processes reserving at once get distinct slots at least 1/rate apart: at most
    rate + 1 sends can start in any one-second window, whatever the number of workers."""
    rate, per_process = 1000, 150
    out = multiprocessing.get_context("fork").Queue()
    workers = [
        multiprocessing.get_context("fork").Process(
            target=_reserve_many, args=(service_urls["redis_url"], rate, per_process, out)
        )
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    slots = sorted(slot for _ in workers for slot in out.get(timeout=60))
    for worker in workers:
        worker.join(timeout=60)
    assert len(slots) == 4 * per_process
    gaps = [b - a for a, b in zip(slots, slots[1:], strict=False)]
    assert min(gaps) >= 1_000_000 // rate


def test_a_caller_is_refused_rather_than_booked_far_ahead(service_urls):
    """With max_wait_s of 0.05 at 100 per second, no slot is booked more than 0.05 s ahead: about
    six slots (now + 5 ahead) plus one per 10 ms the loop itself took are granted, the rest refused."""
    throttle = PhoneNumberThrottle(get_redis(service_urls["redis_url"]), "pn-1", 100, max_wait_s=0.05)
    started = time.monotonic()
    answers = [throttle.reserve() for _ in range(10)]
    elapsed = time.monotonic() - started
    granted = [a for a in answers if a is not None]
    # A slow machine spends time in the loop, and time frees slots: the bound grows with it.
    assert 5 <= len(granted) <= 6 + math.ceil(elapsed * 100) + 1
    assert all(0 <= wait <= 0.05 for wait in granted)
    assert granted == sorted(granted)
    if elapsed < 0.02:  # fast enough that the bucket cannot have freed four slots meanwhile
        assert answers[-1] is None


def test_a_pause_pushes_every_slot_back(service_urls):
    """After Meta says the number is over its limit, no slot is handed out before the pause ends."""
    throttle = PhoneNumberThrottle(get_redis(service_urls["redis_url"]), "pn-2", 1000, max_wait_s=10)
    throttle.pause(2.0)
    wait = throttle.reserve()
    assert 1.9 <= wait <= 2.0


def test_numbers_have_separate_buckets(service_urls):
    """One number's traffic does not slow another's."""
    redis = get_redis(service_urls["redis_url"])
    busy = PhoneNumberThrottle(redis, "pn-busy", 10, max_wait_s=5)
    for _ in range(20):
        busy.reserve()
    assert PhoneNumberThrottle(redis, "pn-idle", 10).reserve() == 0


@pytest.mark.parametrize("rate", [0, 1001])
def test_caps_outside_metas_range_are_refused(service_urls, rate):
    """Meta's throughput is 1 to 1,000 messages per second per number."""
    with pytest.raises(ValueError, match="between 1 and 1000"):
        PhoneNumberThrottle(get_redis(service_urls["redis_url"]), "pn", rate)


def test_the_send_log_lets_through_at_most_the_cap_in_any_second(service_urls):
    """Callers who woke late cannot bunch: within one second the log lets 99 of 150 through at
    a cap of 100 (1% is kept for the network), and tells the rest how long to wait."""
    throttle = PhoneNumberThrottle(get_redis(service_urls["redis_url"]), "pn-3", 100)
    answers = [throttle.let_through() for _ in range(150)]
    assert answers.count(0) == 99
    assert all(0 < wait <= 1.0 for wait in answers if wait)
