"""What the circuit breaker costs the drain (`make bench`): statuses per second the drain applies
with the breaker and with it switched off, on the same kind of traffic, rounds alternating who
goes first on fresh rows, for two kinds of traffic:

- ``delivered``: every status delivered, as most of real traffic; the breaker costs it one scope
  check per failure, so none;
- ``failed``: the breaker's worst ordinary case, every status a failure and one in five of them
  template-wide (132000), so nearly every batch makes the breaker read the campaigns' last
  failures (core/meta_webhooks/halt.py). The campaigns halted by a round are sending again
  before the next (untimed): a halted campaign is no longer read, and the read on every batch
  is what could cost.

- ``breaker_drain_apply_ratio_<traffic>``: the rate with over the rate without (1.0 is no cost;
  the issue asks "unchanged");
- ``breaker_drain_statuses_per_s_<traffic>_with`` / ``_without``: the two rates.
"""

from __future__ import annotations

import json
import os
import random
import time
from contextlib import contextmanager
from unittest.mock import patch

from sqlalchemy import text

from bench import stack
from bench import webhook_data as data
from bench.figures import Figure, load_average
from core.db import get_engine
from jobs.webhooks import DRAIN_LANES, drain_meta_inbox

MESSAGES = 100_000
ROWS_PER_ROUND = 6_000
ROUNDS = 4  # each round drains ROWS_PER_ROUND with and ROWS_PER_ROUND without
PER_BODY = 5
TEMPLATE_SHARE = 0.2
# Every status delivered (most of real traffic), then every status failed (the breaker's worst).
TRAFFIC = ("delivered", "failed")


def run() -> list[Figure]:
    with stack.bench_database() as database_url:
        os.environ.update(stack.app_environment(database_url, stack.bench_redis_url()))
        engine = get_engine(database_url)
        data.build_table(engine, messages=MESSAGES)
        rng = random.Random(20261208)
        numbers = rng.sample(range(MESSAGES), 2 * len(TRAFFIC) * ROUNDS * ROWS_PER_ROUND)
        figures = []
        for n, traffic in enumerate(TRAFFIC):
            share = 2 * ROUNDS * ROWS_PER_ROUND
            figures += _compare(engine, traffic, numbers[n * share : (n + 1) * share], rng)
    return [*figures, Figure("breaker_drain_load_average_1m", load_average(), "load")]


def _compare(engine, traffic: str, numbers: list[int], rng: random.Random) -> list[Figure]:
    """The drain with and without the breaker on ``traffic``, ROUNDS rounds, alternating."""
    with_s = without_s = 0.0
    for n in range(ROUNDS):
        chunk = numbers[2 * n * ROWS_PER_ROUND : 2 * (n + 1) * ROWS_PER_ROUND]
        first, second = chunk[:ROWS_PER_ROUND], chunk[ROWS_PER_ROUND:]
        order = (True, False) if n % 2 == 0 else (False, True)
        for rows, breaker in zip((first, second), order, strict=True):
            elapsed = _drain(engine, rows, traffic, rng, breaker=breaker)
            with_s, without_s = (with_s + elapsed, without_s) if breaker else (with_s, without_s + elapsed)
    total = ROUNDS * ROWS_PER_ROUND
    return [
        Figure(f"breaker_drain_apply_ratio_{traffic}", round(without_s / with_s, 3), "x", "~1.0"),
        Figure(f"breaker_drain_statuses_per_s_{traffic}_with", round(total / with_s), "statuses/s"),
        Figure(f"breaker_drain_statuses_per_s_{traffic}_without", round(total / without_s), "statuses/s"),
    ]


def _drain(engine, numbers: list[int], traffic: str, rng: random.Random, *, breaker: bool) -> float:
    """Store ``traffic`` statuses of ``numbers`` in the inbox, then time the drain job's own
    function."""
    seconds = int(time.time())
    bodies = [
        _failed_body(chunk, seconds, rng) if traffic == "failed" else data.status_body(chunk, seconds)
        for chunk in (numbers[start : start + PER_BODY] for start in range(0, len(numbers), PER_BODY))
    ]
    data.store_bodies(engine, bodies)
    with engine.begin() as connection:
        connection.execute(_SENDING_AGAIN)
    with _breaker(breaker):
        started = time.perf_counter()
        applied = drain_meta_inbox(DRAIN_LANES, linger_s=0)["statuses"]
        elapsed = time.perf_counter() - started
    assert applied == len(numbers), f"the drain applied {applied} of {len(numbers)} statuses"
    return elapsed


_SENDING_AGAIN = text(
    "UPDATE campaigns SET halted_reason = NULL, halted_code = NULL"
    " WHERE shop_id = 1 AND halted_reason IS NOT NULL"
)


@contextmanager
def _breaker(on: bool):
    """Off: neither the early halt ahead of a batch nor the count over the last failures runs."""
    if on:
        yield
        return
    with (
        patch("jobs.webhooks._halt_first", lambda trips: None),
        patch("core.meta_webhooks.apply.halts_for_failures", lambda *args: []),
    ):
        yield


def _failed_body(numbers: list[int], seconds: int, rng: random.Random) -> bytes:
    body = json.loads(data.status_body(numbers, seconds, status="failed"))
    for status in body["entry"][0]["changes"][0]["value"]["statuses"]:
        code = 132000 if rng.random() < TEMPLATE_SHARE else 131049
        status.pop("pricing")  # a failed message is not billed
        status["errors"] = [
            {
                "code": code,
                "title": "Failed",
                "message": "Failed",
                "error_data": {"details": "Failed"},
            }
        ]
    return json.dumps(body, separators=(",", ":")).encode()
