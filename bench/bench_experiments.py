"""The read-outs of an A/B campaign with a holdout at size: 1,000,000 messages over 4 variants and
100,000 held-out customers, 20,000 attributed orders; each read-out computed cold (no report
cache), as the first poll after a change pays it.

The variants' funnel and billed groups are kept rows (core/counts/variants.py, billed.py), filled
here by the recount as the seed loader fills them; the run also times, on the same data, the
GROUP BYs over the campaign's messages the read-out ran before they were kept (the "scan"
figure), and apart the attributed orders (computed when asked, never stored: attribution.py),
which the read-out's orders and revenue per variant still need.
"""

from __future__ import annotations

import os
import statistics
import time
from unittest.mock import patch

import psycopg
from sqlalchemy import text

from bench.figures import Figure, load_average
from core.counts.billed import DAY_SQL
from core.counts.funnel import METRICS_SQL
from core.db import libpq_url
from core.outcomes.credits import BILLED_SQL

MESSAGES = 1_000_000
HELD_OUT = 100_000
ORDERS = 20_000
RUNS = 5

_POPULATE = [
    # 1.1M customers: the first million get messages, the rest are held out.
    """INSERT INTO customers (shop_id, shopify_customer_id, first_name, phone, phone_e164, consent)
       SELECT %(shop)s, 9000000000 + g, 'C' || g, '+3462' || lpad(g::text, 7, '0'),
              '+3462' || lpad(g::text, 7, '0'), 'SUBSCRIBED'
         FROM generate_series(1, %(messages)s + %(held)s) g""",
    """INSERT INTO messages (shop_id, campaign_id, customer_id, phone, wamid, status, variant_id,
                             sent_at, delivered_at, read_at)
       SELECT c.shop_id, %(campaign)s, c.id, c.phone, 'wamid.ab.' || c.id,
              CASE WHEN c.id %% 10 < 5 THEN 'read' ELSE 'delivered' END, 1 + c.id %% 4,
              now() - interval '2 days', now() - interval '2 days',
              CASE WHEN c.id %% 10 < 5 THEN now() - interval '1 day' END
         FROM customers c
        WHERE c.shop_id = %(shop)s AND c.shopify_customer_id <= 9000000000 + %(messages)s""",
    """INSERT INTO campaign_holdouts (shop_id, campaign_id, customer_id)
       SELECT shop_id, %(campaign)s, id FROM customers
        WHERE shop_id = %(shop)s AND shopify_customer_id > 9000000000 + %(messages)s""",
    """INSERT INTO orders (shop_id, shopify_order_id, shopify_customer_id, total, currency, ordered_at)
       SELECT %(shop)s, 7000000000 + g, 9000000000 + g * 50, 40.00, 'EUR', now() - interval '1 day'
         FROM generate_series(1, %(orders)s) g""",
]


def _populate(database: str) -> tuple[int, int]:
    variants = [
        {"id": n, "name": f"V{n}", "share": 22 if n < 4 else 24, "template": {"name": "o", "language": "en"}}
        for n in range(1, 5)
    ]
    with psycopg.connect(database, autocommit=True) as conn:
        shop = conn.execute(
            "INSERT INTO shops (domain, timezone, currency)"
            " VALUES ('ab.myshopify.com', 'Europe/Madrid', 'EUR') RETURNING id"
        ).fetchone()[0]
        campaign = conn.execute(
            "INSERT INTO campaigns (shop_id, name, type, status, template_name, template_language,"
            " template_category, created_at, launched_at, dispatch_started_at, dispatch_finished_at,"
            " holdout_share, variants, experiment_metric)"
            " VALUES (%s, 'AB', 'PROMOTIONAL', 'SENT', 'offer', 'en', 'MARKETING', now() - interval '3 days',"
            " now() - interval '3 days', now() - interval '3 days', now() - interval '3 days', 10, %s,"
            " 'revenue_per_recipient') RETURNING id",
            (shop, psycopg.types.json.Jsonb(variants)),
        ).fetchone()[0]
        params = {"shop": shop, "campaign": campaign, "messages": MESSAGES, "held": HELD_OUT}
        params["orders"] = ORDERS
        for statement in _POPULATE:
            conn.execute(statement, params)
        conn.execute("VACUUM ANALYZE")
    return shop, campaign


# What the read-out grouped over the messages before the counts were kept: the funnel, the
# clicked messages and the billed groups per variant (core/reports/variants.py until 0028).
_SCANS = [
    text(f"""SELECT m.variant_id AS id, {METRICS_SQL} FROM messages m
              WHERE m.shop_id = :shop_id AND m.campaign_id = :campaign_id GROUP BY m.variant_id"""),
    text("""SELECT m.variant_id AS id, count(DISTINCT k.message_id) AS clicked
              FROM clicks k JOIN messages m ON m.shop_id = k.shop_id AND m.id = k.message_id
             WHERE k.shop_id = :shop_id AND m.campaign_id = :campaign_id GROUP BY m.variant_id"""),
    text(f"""SELECT m.variant_id, {DAY_SQL} AS day, COALESCE(substring(m.phone from 2 for 3), '') AS prefix,
                    lower(COALESCE(NULLIF(m.pricing_category, ''), k.template_category)) AS category,
                    count(*) AS n
               FROM messages m JOIN campaigns k ON k.shop_id = m.shop_id AND k.id = m.campaign_id
              WHERE m.shop_id = :shop_id AND m.campaign_id = :campaign_id AND {BILLED_SQL}
              GROUP BY 1, 2, 3, 4"""),
]


def _timed(compute) -> list[float]:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        compute()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def run() -> list[Figure]:
    from bench.stack import bench_database

    with bench_database() as url, patch.dict(os.environ, DATABASE_URL=url):
        return _measure(url)


def _measure(url: str) -> list[Figure]:
    from core.counts.recount import recount
    from core.counts.variants import variant_counts
    from core.db import session_scope
    from core.experiments.holdout import holdout_report
    from core.models import Campaign, Shop
    from core.outcomes.attribution import attributed_orders
    from core.reports.variants import BILLED_BY_VARIANT, variants_report

    started = time.perf_counter()
    shop_id, campaign_id = _populate(libpq_url(url))
    with session_scope() as session:  # the kept rows, as the seed loader fills them
        recount(session, shop_id, [campaign_id])
    figures = [
        Figure("experiments_dataset_build_seconds", round(time.perf_counter() - started, 1), "s"),
        Figure("experiments_load_average_1m", load_average(), "load"),
    ]
    keys = {"shop_id": shop_id, "campaign_id": campaign_id}
    with session_scope() as session:
        shop, campaign = session.get(Shop, shop_id), session.get(Campaign, (shop_id, campaign_id))
        scan = _timed(lambda: [session.execute(statement, keys).all() for statement in _SCANS])
        kept = _timed(
            lambda: (
                variant_counts(session, shop_id, campaign_id),
                session.execute(BILLED_BY_VARIANT, keys).all(),
            )
        )
        window = shop.attribution_window_days
        orders = _timed(lambda: attributed_orders(session, shop_id, window, [campaign_id]))
        variants = _timed(lambda: variants_report(session, shop, campaign))
        holdout = _timed(lambda: holdout_report(session, shop, campaign))
    median = statistics.median
    figures += [
        Figure("variants_funnel_and_cost_scan_median", round(median(scan), 1), "ms"),
        Figure("variants_funnel_and_cost_kept_median", round(median(kept), 1), "ms", "< 100"),
        Figure("variants_attributed_orders_median", round(median(orders), 1), "ms"),
        Figure("variants_readout_cold_median", round(median(variants), 1), "ms", "< 100"),
        Figure("holdout_readout_cold_median", round(median(holdout), 1), "ms", "< 100"),
    ]
    return figures
