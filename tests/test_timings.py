"""The kept time distributions: fine buckets the same in Python and SQL, and the page's
figures from them equal to percentile_cont over the messages themselves."""

from __future__ import annotations

import random
import statistics
from datetime import timedelta

import pytest
from sqlalchemy import text

from core.counts.timings import bucket_of, bucket_sql, timings
from core.db import session_scope
from tests.scenarios import T0

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

EDGES_MS = [0, 1, 999, 1000, 599_999, 600_000, 609_999, 610_000, 3_599_999, 3_600_000, 3_659_999,
            86_399_999, 86_400_000, 86_999_999, 2_591_999_999, 2_592_000_000, 10**12]  # fmt: skip


def test_python_and_sql_put_a_time_in_the_same_bucket(service_urls):
    """bucket_of and bucket_sql agree at every edge between bucket widths."""
    with session_scope() as session:
        sql = session.execute(
            text(f"SELECT {bucket_sql('ms')} FROM unnest(CAST(:ms AS bigint[])) AS t(ms)"), {"ms": EDGES_MS}
        ).scalars()
        assert list(sql) == [bucket_of(ms) for ms in EDGES_MS]
    # 1 s wide below 10 min, then 10 s, 1 min up to a day, 10 min up to 30 days, then one bucket
    assert [bucket_of(ms) for ms in EDGES_MS] == [
        0, 0, 0, 1, 599, 600, 600, 601, 899, 900, 900, 2279, 2280, 2280, 6455, 6456, 6456,
    ]  # fmt: skip


def test_distribution_of_whole_seconds_equals_percentile_cont_over_the_messages(make):
    """Counts, histogram, median and p90 from the buckets equal the figures computed from every
    message (Meta's times are whole seconds), across all bucket widths."""
    shop = make.shop("timings.myshopify.com")
    campaign = make.campaign(shop, "Timings", status="SENT", launched_at=T0)
    rng = random.Random(7)
    seconds = [rng.choice([rng.randint(0, 599), rng.randint(600, 7200) // 10 * 10]) for _ in range(120)]
    for n, s in enumerate(seconds):
        make.message(
            campaign, make.customer(shop), status="delivered", wamid=f"wamid.t{n}",
            sent_at=T0, delivered_at=T0 + timedelta(seconds=s),
        )  # fmt: skip
    make.recount(campaign)
    with session_scope() as session:
        deliver = timings(session, shop.id, campaign.id)["deliver"]
    quantiles = statistics.quantiles(seconds, n=10, method="inclusive")
    assert deliver["count"] == len(seconds)
    assert deliver["median_s"] == round(statistics.median(seconds), 1)
    assert deliver["p90_s"] == round(quantiles[-1], 1)
    assert sum(b["count"] for b in deliver["histogram"]) == len(seconds)
    assert deliver["histogram"][0]["count"] == sum(1 for s in seconds if s < 10)
