"""Campaign engine benchmarks (`make bench`):

- ``dispatch_*``: a 15,000-recipient campaign sent by two worker processes against the Meta
  stand-in, the phone number's cap at 1,000 messages a second. The stand-in records when it
  accepted each send: the mean rate over the whole run (target: within 5% of the cap), and when
  each send arrived: the busiest one-second window of arrivals, refused ones included (target:
  never above the cap by more than 2%). ``dispatch_worker_cpu_ms_per_send``: the workers' own
  CPU time (their jobs' work horses included) per message sent; at the cap, times a thousand,
  it is the share of a core the workers need, which says whether this machine can reach it.
  A worker's start-up and exit cost the same however much it sends, so an idle worker (nothing
  queued) is measured beside it (``dispatch_worker_start_cpu_ms``) and taken off in
  ``dispatch_worker_cpu_ms_per_send_steady``, the cost of a long-running worker.
  ``dispatch_stand_in_cpu_ms_per_send`` is the Meta stand-in's share of the same machine.
- ``monitor_ms_*``: one MonitorCampaignJob run on a 1,000,000-message campaign, on the counter
  path (target under 10 ms) and on the reconciliation path (target under 1 s).
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import time

import psutil
import requests
from sqlalchemy import text

from bench.figures import Figure, load_average
from bench.stack import meta_stand_in, scratch_services
from core.crypto import encrypt_token
from core.db import get_engine, session_scope
from core.settings import PROJECT_ROOT

CAP = 1000
RECIPIENTS = 15_000
WORKERS = 2
MONITOR_MESSAGES = 1_000_000
PHONE_NUMBER_ID, WABA_ID, TOKEN = "1234567890", "5550001", "demo-meta-access-token"


def run() -> list[Figure]:
    return bench_dispatch() + bench_monitor()


def _shop(conn, messages_per_second: int) -> int:
    return conn.execute(
        text("""
            INSERT INTO shops (domain, meta_phone_number_id, meta_waba_id, meta_access_token_ciphertext,
                               messages_per_second, credits)
            VALUES ('bench.myshopify.com', :pn, :waba, :token, :mps, 100000000) RETURNING id
        """),
        {"pn": PHONE_NUMBER_ID, "waba": WABA_ID, "token": encrypt_token(TOKEN), "mps": messages_per_second},
    ).scalar_one()


def _campaign(conn, shop_id: int, status: str = "PENDING") -> int:
    return conn.execute(
        text("""
            INSERT INTO campaigns (shop_id, name, type, status, template_name, template_language,
                                   template_category, launched_at)
            VALUES (:shop_id, 'Bench', 'PROMOTIONAL', :status, 'weekly_offer', 'en', 'MARKETING', now())
            RETURNING id
        """),
        {"shop_id": shop_id, "status": status},
    ).scalar_one()


_CUSTOMERS = text("""
    INSERT INTO customers (shop_id, shopify_customer_id, first_name, phone, phone_e164, consent)
    SELECT :shop_id, n, 'C' || n, p, p, 'SUBSCRIBED'
      FROM generate_series(1, :count) n,
           LATERAL (SELECT '+3461' || lpad(n::text, 7, '0')) AS x(p)
""")


def bench_dispatch() -> list[Figure]:
    os.environ["META_MESSAGES_PER_SECOND"] = str(CAP)  # the workers inherit it
    with scratch_services(), meta_stand_in("--cap", str(CAP)) as meta_url:
        from jobs.chains import start_dispatch

        start_cpu = _workers_cpu_s(1)  # nothing queued yet: start-up and exit alone
        with get_engine().begin() as conn:
            shop_id = _shop(conn, CAP)
            conn.execute(_CUSTOMERS, {"shop_id": shop_id, "count": RECIPIENTS})
            campaign_id = _campaign(conn, shop_id)
        start_dispatch(shop_id, campaign_id)
        stand_in = _stand_in_process()
        stand_in_before = sum(stand_in.cpu_times()[:2])
        started = time.monotonic()
        cpu = _workers_cpu_s(WORKERS)
        wall = time.monotonic() - started
        stand_in_cpu = sum(stand_in.cpu_times()[:2]) - stand_in_before
        load = load_average()
        rate = requests.get(f"{meta_url}/sim/rate", timeout=60).json()
        refused = requests.get(f"{meta_url}/sim/truth", timeout=60).json()["refused"]
    peak = rate["peak_arrivals_per_1s_window"] / CAP
    sent = max(rate["accepted"], 1)
    return [
        Figure("dispatch_accepted", rate["accepted"], "messages", f"= {RECIPIENTS}"),
        Figure("dispatch_rate", rate["mean_per_s"], "messages/s", f"{CAP * 0.95:.0f} to {CAP}"),
        Figure("dispatch_rate_of_cap", rate["mean_per_s"] / CAP, "ratio", ">= 0.95"),
        Figure("dispatch_peak_1s_window_of_cap", peak, "ratio", "<= 1.02"),
        Figure("dispatch_refused_130429", int(refused.get("130429", 0)), "sends", "= 0"),
        Figure("dispatch_wall", wall, "s"),
        Figure("dispatch_worker_cpu_ms_per_send", cpu * 1000 / sent, "ms"),
        Figure("dispatch_worker_start_cpu_ms", start_cpu * 1000, "ms"),
        Figure("dispatch_worker_cpu_ms_per_send_steady", (cpu - WORKERS * start_cpu) * 1000 / sent, "ms"),
        Figure("dispatch_stand_in_cpu_ms_per_send", stand_in_cpu * 1000 / sent, "ms"),
        Figure("dispatch_load_average_1m", load, "load"),
    ]


def _workers_cpu_s(count: int) -> float:
    """Run ``count`` burst workers until nothing is queued or due; return their CPU seconds."""
    before = _children_cpu_s()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "jobs.worker", "--burst"], cwd=PROJECT_ROOT, stderr=subprocess.DEVNULL
        )
        for _ in range(count)
    ]
    for worker in workers:
        worker.wait(timeout=600)
    return _children_cpu_s() - before  # only the workers were reaped meanwhile


def _stand_in_process() -> psutil.Process:
    """Return the Meta stand-in, this process's child."""
    return next(p for p in psutil.Process().children() if "sim.meta" in p.cmdline())


def _children_cpu_s() -> float:
    """Return the user and system CPU seconds of this process's reaped children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _million_messages(conn, shop_id: int, campaign_id: int) -> None:
    """A realistic mix, ten statuses per ten messages: 5 read, 2 delivered, 1 failed, 2 sent
    (the sent ones keep the campaign open, so every run is a full run)."""
    conn.execute(
        text("""
            INSERT INTO messages (shop_id, campaign_id, wamid, status, submitted_at, accepted_at, sent_at,
                                  delivered_at, read_at, failed_at, error_code)
            SELECT :shop_id, :campaign_id, 'wamid.bench' || n,
                   CASE WHEN n % 10 < 5 THEN 'read' WHEN n % 10 < 7 THEN 'delivered'
                        WHEN n % 10 < 8 THEN 'failed' ELSE 'sent' END,
                   now(), now(), now(),
                   CASE WHEN n % 10 < 7 THEN now() END,
                   CASE WHEN n % 10 < 5 THEN now() END,
                   CASE WHEN n % 10 = 7 THEN now() END,
                   CASE WHEN n % 10 = 7 THEN '131026' END
              FROM generate_series(1, :count) n
        """),
        {"shop_id": shop_id, "campaign_id": campaign_id, "count": MONITOR_MESSAGES},
    )
    conn.execute(
        text("UPDATE campaigns SET dispatch_started_at = now(), dispatch_finished_at = now() WHERE id = :id"),
        {"id": campaign_id},
    )


def _time_runs(shop_id: int, campaign_id: int, runs: int, reconcile: bool) -> list[float]:
    from datetime import timedelta

    from core.campaigns.monitor import monitor_campaign

    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        with session_scope() as session:
            monitor_campaign(session, shop_id, campaign_id, ttl=timedelta(days=30), reconcile=reconcile)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def bench_monitor() -> list[Figure]:
    with scratch_services():
        with get_engine().begin() as conn:
            shop_id = _shop(conn, 80)
            campaign_id = _campaign(conn, shop_id)
            _million_messages(conn, shop_id, campaign_id)
        with get_engine().connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE messages"))
        _time_runs(shop_id, campaign_id, 1, reconcile=True)  # sets the counters; warms the cache
        counter_path = _time_runs(shop_id, campaign_id, 50, reconcile=False)
        reconciliation = _time_runs(shop_id, campaign_id, 5, reconcile=True)
    return [
        Figure("monitor_ms_counter_path", statistics.median(counter_path), "ms", "< 10"),
        Figure("monitor_ms_counter_path_p95", sorted(counter_path)[int(len(counter_path) * 0.95)], "ms"),
        Figure("monitor_ms_reconciliation", statistics.median(reconciliation), "ms", "< 1000"),
        Figure("monitor_ms_reconciliation_max", max(reconciliation), "ms"),
    ]
