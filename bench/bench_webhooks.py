"""Meta webhook benchmarks (issue 3), side by side in one run on PostgreSQL and Redis, with the
webhook server run as production runs it (gunicorn):

- ingest_ack_ratio (target >= 0.7), with acknowledgement latency p50/p99;
- apply_ratio (target >= 0.5): the drain against a raw UPDATE ... FROM unnest, 1,000,000 rows;
- naive_speedup (target >= 50): end to end against one RQ job per webhook, ORM per status;
- freshness p99 (target < 1 s) while 3,000 statuses a second arrive.

Workload: bodies shaped like Meta's, one status each (the worst case for every per-body cost),
except the freshness run, which sends 300 POSTs a second of 10 statuses each (one gunicorn
and one worker on two cores do not take 3,000 single-status POSTs a second; see the issue note).
gunicorn runs 2 processes of 16 threads (README, production); the drain runs its 2 lanes.

Uses the servers of DATABASE_URL / REDIS_URL (a fresh database of its own, dropped at the end;
Redis database BENCH_REDIS_DB, flushed) or the embedded ones. About two minutes on 2 cores.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

from sqlalchemy import text

from bench import stack, webhook_apply, webhook_e2e, webhook_ingest, webhook_profile
from bench import webhook_data as data
from bench.figures import Figure, load_average
from core.db import get_engine

# statuses a second Meta may send for a number at 1,000 messages a second, and how we batch them
FRESHNESS_RATE = 3000
FRESHNESS_PER_BODY = 10
FRESHNESS_S = 10


def run() -> list[Figure]:
    with stack.bench_database() as database_url, tempfile.TemporaryDirectory() as scratch:
        env = stack.app_environment(database_url, stack.bench_redis_url())
        os.environ.update(env)  # this process's drain, settings and Redis are the servers'
        engine = get_engine(database_url)
        data.build_table(engine)
        return _measure(engine, env, Path(scratch))


def _measure(engine, env: dict[str, str], scratch: Path) -> list[Figure]:
    rng, used = random.Random(20261127), set()
    figures = []
    with stack.gunicorn(env, threads=stack.GUNICORN_THREADS) as base:
        ingest_bodies = scratch / "ingest.txt"
        webhook_ingest.write_bodies(ingest_bodies, 120_000)
        figures += _ingest_figures(webhook_ingest.measure(base, ingest_bodies))
        figures += _profile_figures(base, ingest_bodies)
        _truncate_inbox(engine)
        figures += _apply_figures(webhook_apply.measure(engine, rng, used))
        figures += _e2e_figures(engine, env, base, scratch, rng, used)
    return figures


def _profile_figures(base: str, bodies: Path) -> list[Figure]:
    """Where the CPU goes (bench/webhook_profile.py): one figure per part and endpoint."""
    figures = [Figure("ingest_load_average_1m", load_average(), "load")]
    for name, path in (
        ("bare", "/bench/bare"),
        ("flask_route", "/bench/flask_meta"),
        ("thin_route", "/webhooks/meta"),
    ):
        for part, share in webhook_profile.profile(base, path, bodies).items():
            slug = "".join(ch if ch.isalnum() else "_" for ch in part.split(" (")[0].lower()).strip("_")
            figures.append(Figure(f"ack_cpu_{name}_{slug}", share, "share of samples"))
    return figures


def _truncate_inbox(engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("TRUNCATE inbox_events"))


def _ingest_figures(m: dict) -> list[Figure]:
    return [
        Figure("ingest_ack_ratio", round(m["ratio"], 3), "x", ">= 0.7"),
        Figure("ingest_ack_per_s", round(m["ours_per_s"]), "POSTs/s"),
        Figure("ingest_bare_per_s", round(m["bare_per_s"]), "POSTs/s"),
        Figure(
            "ingest_ack_p50_ms", round(m["paced_p50_ms"], 2), "ms", f"at {round(m['paced_per_s'])} POSTs/s"
        ),
        Figure(
            "ingest_ack_p99_ms", round(m["paced_p99_ms"], 2), "ms", f"at {round(m['paced_per_s'])} POSTs/s"
        ),
        Figure("ingest_ack_saturated_p50_ms", round(m["saturated_p50_ms"], 1), "ms"),
        Figure("ingest_ack_saturated_p99_ms", round(m["saturated_p99_ms"], 1), "ms"),
    ]


def _apply_figures(m: dict) -> list[Figure]:
    return [
        Figure("apply_ratio", round(m["ratio"], 3), "x", ">= 0.5"),
        Figure("apply_drain_statuses_per_s", round(m["ours"]), "statuses/s"),
        Figure("apply_raw_update_statuses_per_s", round(m["raw"]), "statuses/s"),
    ]


def _e2e_figures(engine, env, base: str, scratch: Path, rng: random.Random, used: set[int]) -> list[Figure]:
    naive_numbers = webhook_apply._fresh(rng, used, webhook_e2e.NAIVE_BODIES)
    naive_worker = [sys.executable, "-m", "bench.naive_worker"]
    with stack.process(naive_worker, env, "bench-naive-worker"):
        naive = webhook_e2e.naive_throughput(engine, base, naive_numbers)
    ours_bodies = scratch / "ours.txt"
    count = stack.write_bodies(ours_bodies, data.bodies(webhook_apply._fresh(rng, used, 20_000), per_body=1))
    fresh_bodies = scratch / "fresh.txt"
    campaign_one = [n for n in _fresh_in_campaign_one(rng, used, FRESHNESS_RATE * FRESHNESS_S * 12 // 10)]
    stack.write_bodies(fresh_bodies, data.bodies(campaign_one, per_body=FRESHNESS_PER_BODY))
    stack.bench_redis_url()  # a clean Redis: no drain job or flag left from the runs above
    worker = [sys.executable, "-m", "jobs.worker", "--name", "bench-worker"]
    with stack.process(worker, env, "bench-worker"):
        ours = webhook_e2e.ours_throughput(engine, base, ours_bodies, count)
        fresh = webhook_e2e.freshness(
            engine, base, fresh_bodies, FRESHNESS_PER_BODY, FRESHNESS_RATE // FRESHNESS_PER_BODY, FRESHNESS_S
        )
    return [
        Figure("naive_speedup", round(ours / naive, 1), "x", ">= 50"),
        Figure("e2e_ours_statuses_per_s", round(ours), "statuses/s"),
        Figure("e2e_naive_statuses_per_s", round(naive, 1), "statuses/s"),
        Figure("freshness_p50_ms", round(fresh["p50_ms"]), "ms"),
        Figure("freshness_p99_ms", round(fresh["p99_ms"]), "ms", "< 1000"),
        Figure(
            "freshness_statuses_per_s",
            round(fresh["statuses_per_s"]),
            "statuses/s",
            f"{FRESHNESS_PER_BODY} per POST",
        ),
    ]


def _fresh_in_campaign_one(rng: random.Random, used: set[int], count: int) -> list[int]:
    """Unused messages of campaign 1 (numbers n with n % 10 == 0), so its counter tells."""
    numbers: list[int] = []
    while len(numbers) < count:
        n = rng.randrange(data.MESSAGES // data.CAMPAIGNS) * data.CAMPAIGNS
        if n not in used:
            used.add(n)
            numbers.append(n)
    return numbers
