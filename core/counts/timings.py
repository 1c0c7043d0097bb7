"""How long messages took to be delivered and read: median, 90th percentile and a histogram.

Both durations are measured from the time Meta reports the message sent (``sent_at``), so the
two distributions share one starting line: "delivered within a minute of sending", "read within
an hour of sending". Meta's timestamps come from different machines; a delivery stamped a moment
before its send counts as zero, never negative. Only messages now delivered or read count.

The distributions are kept, not scanned: every message that counts sits in one fine bucket per
kind (``campaign_timing_buckets``: a count and the sum of its times). The drain moves a message
from bucket to bucket in the transaction that changes its times, like the counters
(core/meta_webhooks/apply_statuses.py), and the recount (core/counts/recount.py) rebuilds them from
the messages. The page then reads at most a few thousand rows whatever the campaign's size.

The histogram's counts are exact. Percentiles are ``percentile_cont`` over the messages with
each one standing at its bucket's mean: exact when a bucket's times are equal (Meta's times are
whole seconds, and buckets are one second wide below 10 minutes), otherwise off by less than a
bucket's width: 10 s up to an hour, a minute up to a day, 10 minutes up to 30 days.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.counts.kept_rows import RowChanges, rebuild

# Upper bounds (seconds) of the histogram's buckets; the last bucket is open-ended.
BUCKET_BOUNDS = (10, 60, 300, 900, 3600, 21600, 86400)
BUCKET_LABELS = (
    "under 10 s",
    "10 s – 1 min",
    "1 – 5 min",
    "5 – 15 min",
    "15 min – 1 h",
    "1 – 6 h",
    "6 – 24 h",
    "24 h or more",
)
KINDS = {"deliver": "delivered_at", "read": "read_at"}
# Fine buckets: (start ms, end ms, width ms, first bucket number); past the last, one bucket.
_FINE = (
    (0, 600_000, 1_000, 0),
    (600_000, 3_600_000, 10_000, 600),
    (3_600_000, 86_400_000, 60_000, 900),
    (86_400_000, 2_592_000_000, 600_000, 2280),
)
_LAST_BUCKET = 6456


def bucket_of(ms: int) -> int:
    """The fine bucket of a time in milliseconds (bucket_sql's twin)."""
    for start, end, width, first in _FINE:
        if ms < end:
            return first + (max(ms, start) - start) // width
    return _LAST_BUCKET


def bucket_sql(ms: str) -> str:
    """SQL for bucket_of() of the bigint expression ``ms``."""
    arms = " ".join(
        f"WHEN {ms} < {end} THEN {first} + ({ms} - {start}) / {width}" for start, end, width, first in _FINE
    )
    return f"(CASE {arms} ELSE {_LAST_BUCKET} END)::smallint"


def duration_sql(kind: str, *, status: str, sent_at: str, stage_at: str) -> str:
    """SQL for a message's time to ``kind`` in milliseconds, NULL when it does not count;
    the arguments name the columns (or expressions) to read."""
    return (
        f"CASE WHEN {status} IN ('delivered', 'read') AND {sent_at} IS NOT NULL AND {stage_at} IS NOT NULL"
        f" THEN greatest(round(extract(epoch FROM {stage_at} - {sent_at}) * 1000), 0)::bigint END"
    )


_READ = text("""
    SELECT kind, bucket, messages, milliseconds FROM campaign_timing_buckets
     WHERE shop_id = :shop_id AND campaign_id = :campaign_id AND messages > 0
     ORDER BY kind, bucket
""")


def timings(session: Session, shop_id: int, campaign_id: int) -> dict:
    """``{"deliver": {...}, "read": {...}}``, each with count, median_s, p90_s and histogram."""
    buckets: dict[str, list[tuple[int, int, int]]] = {kind: [] for kind in KINDS}
    for row in session.execute(_READ, {"shop_id": shop_id, "campaign_id": campaign_id}):
        buckets[row.kind].append((row.bucket, row.messages, row.milliseconds))
    return {kind: distribution(rows) for kind, rows in buckets.items()}


def distribution(buckets: Sequence[tuple[int, int, int]]) -> dict:
    """Count, median, p90 and histogram of (bucket, messages, milliseconds) in bucket order."""
    count = sum(n for _, n, _ in buckets)
    return {
        "count": count,
        "median_s": _percentile(buckets, count, 0.5),
        "p90_s": _percentile(buckets, count, 0.9),
        "histogram": _histogram(buckets),
    }


def _percentile(buckets: Sequence[tuple[int, int, int]], count: int, fraction: float) -> float | None:
    """percentile_cont(fraction) with each message at its bucket's mean time."""
    if count == 0:
        return None
    position = fraction * (count - 1)
    low, high = _value_at(buckets, math.floor(position)), _value_at(buckets, math.ceil(position))
    return round((low + (position - math.floor(position)) * (high - low)) / 1000, 1)


def _value_at(buckets: Sequence[tuple[int, int, int]], index: int) -> float:
    seen = 0
    for _, n, ms in buckets:
        seen += n
        if index < seen:
            return ms / n
    raise IndexError(index)


def _histogram(buckets: Sequence[tuple[int, int, int]]) -> list[dict]:
    counts = [0] * len(BUCKET_LABELS)
    bounds = [bucket_of(bound * 1000) for bound in BUCKET_BOUNDS]  # fine buckets align with them
    for bucket, n, _ in buckets:
        counts[sum(1 for first in bounds if bucket >= first)] += n
    return [
        {"label": label, "upper_s": upper, "count": n}
        for label, upper, n in zip(BUCKET_LABELS, (*BUCKET_BOUNDS, None), counts, strict=True)
    ]


_ADD = text("""
    INSERT INTO campaign_timing_buckets AS b (shop_id, campaign_id, kind, bucket, messages, milliseconds)
    SELECT * FROM unnest(CAST(:shop_ids AS bigint[]), CAST(:campaign_ids AS bigint[]),
                         CAST(:kinds AS text[]), CAST(:buckets AS smallint[]), CAST(:messages AS bigint[]),
                         CAST(:ms AS bigint[]))
        ON CONFLICT (shop_id, campaign_id, kind, bucket) DO UPDATE
       SET messages = b.messages + excluded.messages, milliseconds = b.milliseconds + excluded.milliseconds
""")


class TimingChanges(RowChanges):
    """Messages moving between buckets in one transaction, summed per bucket."""

    UPSERT = _ADD
    PARAMS = ("shop_ids", "campaign_ids", "kinds", "buckets", "messages", "ms")

    def add(self, shop_id: int, campaign_id: int, kind: str, bucket: int, messages: int, ms: int) -> None:
        self.add_to_row((shop_id, campaign_id, kind, bucket), messages, ms)

    def moved(
        self, shop_id: int, campaign_id: int, kind: str, old_ms: int | None, new_ms: int | None
    ) -> None:
        """One message's time changed from ``old_ms`` to ``new_ms`` (None: it did not count)."""
        if old_ms == new_ms:
            return
        if old_ms is not None:
            self.add(shop_id, campaign_id, kind, bucket_of(old_ms), -1, -old_ms)
        if new_ms is not None:
            self.add(shop_id, campaign_id, kind, bucket_of(new_ms), 1, new_ms)


def _tally_sql() -> str:
    # One pass over the messages yields both kinds (a row each, by a LATERAL VALUES): a UNION of
    # one SELECT per kind read every delivered message twice.
    durations = ", ".join(
        f"('{kind}', {duration_sql(kind, status='m.status', sent_at='m.sent_at', stage_at=f'm.{stage}')})"
        for kind, stage in KINDS.items()
    )
    return f"""
        SELECT m.campaign_id, d.kind, {bucket_sql("d.ms")} AS bucket,
               count(*) AS messages, sum(d.ms) AS milliseconds
          FROM messages m CROSS JOIN LATERAL (VALUES {durations}) AS d(kind, ms)
         WHERE m.shop_id = :shop_id AND m.campaign_id = ANY(:campaign_ids)
           AND m.status IN ('delivered', 'read') AND d.ms IS NOT NULL
         GROUP BY 1, 2, 3"""


_TALLY = text(_tally_sql())
_STORED = text("""
    SELECT campaign_id, kind, bucket, messages, milliseconds FROM campaign_timing_buckets
     WHERE shop_id = :shop_id AND campaign_id = ANY(:campaign_ids) AND messages <> 0
""")
_FORGET = text(
    "DELETE FROM campaign_timing_buckets WHERE shop_id = :shop_id AND campaign_id = ANY(:campaign_ids)"
)


def recount_timings(session: Session, shop_id: int, campaign_ids: Sequence[int]) -> list[int]:
    """Rebuild the buckets of these campaigns from their messages (the caller holds their
    campaign rows locked, as core/counts/recount.py does); answers the campaigns that had drifted."""
    return rebuild(
        session, shop_id, campaign_ids, TimingChanges, tally=_TALLY, stored=_STORED, forget=_FORGET
    )
