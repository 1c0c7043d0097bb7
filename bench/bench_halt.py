"""The circuit breaker's halt latency (`make bench`), end to end: the app under gunicorn taking
Meta's webhooks, RQ workers as production runs them (one per dispatch lane, one more free for
the drain), the Meta stand-in accepting sends at the
number's 1,000-a-second cap and failing every one of them by status webhook with 131048 (the
spam rate limit: account-wide, so the first failure trips the breaker), posted 0 to 100 ms after
the send in bodies of up to five statuses, as a storm of blocks would.

Each run launches a fresh campaign and waits until it has halted and dispatch is over. The trip
is the moment the drain halted the campaign (its alert's time: the transaction that applied the
tripping status); the last send is the stand-in's own time for the last send it accepted.

- ``halt_latency_s_*``: from the trip to the last send accepted, over RUNS runs (target: the
  worst under 1 s);
- ``halt_sends_after_trip_max``: sends Meta accepted after the trip, the worst run, beside
  ``halt_in_flight_window``: the sends a lane may have in flight when it learns of the halt
  (target: no more than that window);
- ``halt_sends_per_run_*``: how many messages each run sent in all, of RECIPIENTS.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
from datetime import datetime

import requests
from sqlalchemy import text

from bench import stack
from bench.figures import Figure, load_average
from core.crypto import encrypt_token
from core.db import get_engine
from core.dispatch.rate import LANES

CAP = 1000
RECIPIENTS = 3000
RUNS = 5
PHONE_NUMBER_ID, WABA_ID, TOKEN = "1234567890", "5550001", "demo-meta-access-token"
RUN_TIMEOUT_S = 120
# Meta posts webhooks from many machines at once; the stand-in's default two posters would
# deliver at a few hundred bodies a second, behind the sends, and time the stand-in, not us.
POSTERS = 16


def run() -> list[Figure]:
    os.environ["META_MESSAGES_PER_SECOND"] = str(CAP)  # the worker inherits it
    with (
        stack.scratch_services() as services,
        stack.meta_stand_in("--cap", str(CAP), "--posters", str(POSTERS)) as meta_url,
    ):
        env = stack.app_environment(services["database_url"], services["redis_url"])
        env.update(META_GRAPH_URL=meta_url, META_MESSAGES_PER_SECOND=str(CAP))
        with stack.gunicorn(env, threads=8) as base:
            _storm(meta_url, base)
            with contextlib.ExitStack() as workers:
                for n in range(LANES + 1):
                    name = f"bench-halt-{os.getpid()}-{n}"
                    workers.enter_context(
                        stack.process([sys.executable, "-m", "jobs.worker", "--name", name], env, name)
                    )
                shop_id = _shop()
                results = [_one_run(meta_url, shop_id, n) for n in range(RUNS)]
        load = load_average()
    latencies = [latency for latency, _, _ in results]
    after = [sends for _, sends, _ in results]
    total = [sends for _, _, sends in results]
    from jobs.dispatch import Lane

    window = Lane(None, PHONE_NUMBER_ID, TOKEN, CAP).max_in_flight
    return [
        Figure("halt_latency_s_median", statistics.median(latencies), "s"),
        Figure("halt_latency_s_max", max(latencies), "s", "< 1"),
        Figure("halt_sends_after_trip_max", max(after), "sends", f"<= {window}"),
        Figure("halt_in_flight_window", window, "sends"),
        Figure("halt_sends_per_run_median", statistics.median(total), "messages", f"of {RECIPIENTS}"),
        Figure("halt_load_average_1m", load, "load"),
    ]


def _storm(meta_url: str, app_url: str) -> None:
    """Every accepted send fails by webhook with 131048, posted within 100 ms, one per body."""
    never = dict.fromkeys(("read", "sent_only", "read_without_delivered", "failed_then_delivered", "held"), 0)
    config = {
        "webhook_url": f"{app_url}/webhooks/meta",
        "app_secret": stack.BENCH_SECRET,
        "delivery": {**never, "failed": 1.0, "username_share": 0, "failure_codes": {"131048": 1}},
        "adversity": {"duplicates": 0, "max_batch": 5, "multi_entry": 0, "post_delay_s": [0, 0.1]},
    }
    requests.put(f"{meta_url}/sim/config", json=config, timeout=10).raise_for_status()


def _shop() -> int:
    with get_engine().begin() as conn:
        shop_id = conn.execute(
            text("""
                INSERT INTO shops (domain, meta_phone_number_id, meta_waba_id, meta_access_token_ciphertext,
                                   messages_per_second, credits)
                VALUES ('halt.myshopify.com', :pn, :waba, :token, :mps, 100000000) RETURNING id
            """),
            {"pn": PHONE_NUMBER_ID, "waba": WABA_ID, "token": encrypt_token(TOKEN), "mps": CAP},
        ).scalar_one()
        conn.execute(
            text("""
                INSERT INTO customers (shop_id, shopify_customer_id, first_name, phone, phone_e164, consent)
                SELECT :shop_id, n, 'C' || n, p, p, 'SUBSCRIBED'
                  FROM generate_series(1, :count) n, LATERAL (SELECT '+3462' || lpad(n::text, 7, '0')) AS x(p)
            """),
            {"shop_id": shop_id, "count": RECIPIENTS},
        )
    return shop_id


def _one_run(meta_url: str, shop_id: int, n: int) -> tuple[float, int, int]:
    """Launch, wait for the halt and the end of dispatch; (latency s, sends after, sends)."""
    from jobs.chains import start_dispatch

    with get_engine().begin() as conn:
        campaign_id = conn.execute(
            text("""
                INSERT INTO campaigns (shop_id, name, type, status, template_name, template_language,
                                       template_category, launched_at)
                VALUES (:shop_id, :name, 'PROMOTIONAL', 'PENDING', 'weekly_offer', 'en', 'MARKETING', now())
                RETURNING id
            """),
            {"shop_id": shop_id, "name": f"Storm {n}"},
        ).scalar_one()
    launched = time.time()
    start_dispatch(shop_id, campaign_id)
    tripped_at = _wait_for_halt(shop_id, campaign_id)
    time.sleep(2)  # answers and webhooks of the last sends settle
    sends = [
        s["accepted_at"]
        for s in requests.get(f"{meta_url}/sim/sends", timeout=30).json()["sends"]
        if s["accepted_at"] >= launched
    ]
    trip = tripped_at.timestamp()
    return max(max(sends) - trip, 0.0), sum(1 for at in sends if at > trip), len(sends)


def _wait_for_halt(shop_id: int, campaign_id: int) -> datetime:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    query = text("""
        SELECT a.created_at FROM campaigns c
          JOIN shop_alerts a ON a.shop_id = c.shop_id AND a.campaign_id = c.id
         WHERE c.shop_id = :shop_id AND c.id = :campaign_id
           AND c.halted_code IS NOT NULL AND c.dispatch_finished_at IS NOT NULL
    """)
    while time.monotonic() < deadline:
        with get_engine().connect() as conn:
            found = conn.execute(query, {"shop_id": shop_id, "campaign_id": campaign_id}).scalar()
        if found is not None:
            return found
        time.sleep(0.05)
    raise RuntimeError(f"campaign {campaign_id} did not halt within {RUN_TIMEOUT_S} s")
