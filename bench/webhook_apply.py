"""apply_ratio: statuses per second applied by the drain (claim, parse, ratchet, counters, mark)
against a raw set-based ``UPDATE ... FROM unnest`` of the same rows of the same
1,000,000-message table. Both in this process, batch for batch, rounds alternating who goes
first on each fresh set of rows, which is put back to ``sent`` between the two."""

from __future__ import annotations

import random
import time

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench import webhook_data as data
from core.meta_webhooks.drain import BATCH_EVENTS
from jobs.webhooks import DRAIN_LANES, drain_meta_inbox

ROWS_PER_ROUND = 20_000
ROUNDS = 4
LANES = DRAIN_LANES
PER_BODY = 1

_RAW = text(
    """
    UPDATE messages AS m SET status = u.status, delivered_at = u.at
      FROM unnest(CAST(:wamids AS text[]), CAST(:statuses AS text[]), CAST(:ats AS timestamptz[]))
           AS u(wamid, status, at)
     WHERE m.shop_id = 1 AND m.wamid = u.wamid
    """
)
_RESET = text(
    "UPDATE messages SET status = 'sent', delivered_at = NULL"
    " WHERE shop_id = 1 AND wamid = ANY(CAST(:wamids AS text[]))"
)
_RECOUNT = text(
    """
    UPDATE campaigns c SET delivered_count = t.delivered, read_count = t.read
      FROM (SELECT campaign_id, count(delivered_at) AS delivered, count(read_at) AS read
              FROM messages GROUP BY campaign_id) t
     WHERE c.id = t.campaign_id
    """
)


def _drain(lanes: int) -> int:
    """The drain job's own function, run here without RQ's fork."""
    return drain_meta_inbox(lanes, linger_s=0)["statuses"]


def _raw_update(engine: Engine, numbers: list[int]) -> None:
    at = data.now()
    for start in range(0, len(numbers), BATCH_EVENTS):
        chunk = [data.wamid(n) for n in numbers[start : start + BATCH_EVENTS]]
        with engine.begin() as connection:
            connection.execute(
                _RAW, {"wamids": chunk, "statuses": ["delivered"] * len(chunk), "ats": [at] * len(chunk)}
            )


def _ours(engine: Engine, numbers: list[int]) -> float:
    data.store_bodies(engine, list(data.bodies(numbers, per_body=PER_BODY)))
    started = time.perf_counter()
    applied = _drain(LANES)
    elapsed = time.perf_counter() - started
    assert applied == len(numbers), f"the drain applied {applied} of {len(numbers)} statuses"
    return elapsed


def _raw(engine: Engine, numbers: list[int]) -> float:
    started = time.perf_counter()
    _raw_update(engine, numbers)
    return time.perf_counter() - started


def _reset(engine: Engine, numbers: list[int]) -> None:
    with engine.begin() as connection:
        connection.execute(_RESET, {"wamids": [data.wamid(n) for n in numbers]})


def measure(engine: Engine, rng: random.Random, used: set[int]) -> dict[str, float]:
    """Return statuses per second for both sides over all rounds, and their ratio."""
    ours_s = raw_s = 0.0
    for round_no in range(ROUNDS):
        numbers = _fresh(rng, used, ROWS_PER_ROUND)
        first, second = (_raw, _ours) if round_no % 2 == 0 else (_ours, _raw)
        times = {first: first(engine, numbers)}
        _reset(engine, numbers)
        times[second] = second(engine, numbers)
        _reset(engine, numbers)
        ours_s, raw_s = ours_s + times[_ours], raw_s + times[_raw]
    with engine.begin() as connection:
        connection.execute(_RECOUNT)
    total = ROUNDS * ROWS_PER_ROUND
    return {"ours": total / ours_s, "raw": total / raw_s, "ratio": raw_s / ours_s}


def _fresh(rng: random.Random, used: set[int], count: int) -> list[int]:
    """Messages no earlier run touched, in random order (as statuses arrive)."""
    numbers: list[int] = []
    while len(numbers) < count:
        n = rng.randrange(data.MESSAGES)
        if n not in used:
            used.add(n)
            numbers.append(n)
    return numbers
