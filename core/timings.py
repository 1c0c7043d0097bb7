"""How long messages took to be delivered and read: median, 90th percentile and a histogram.

Both durations are measured from the time Meta reports the message sent (``sent_at``), so the
two distributions share one starting line: "delivered within a minute of sending", "read within
an hour of sending". Meta's timestamps come from different machines; a delivery stamped a moment
before its send counts as zero, never negative. One scan of the campaign's delivered messages
computes everything, which is still work proportional to the campaign, so callers cache it.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

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


def _bucket_columns(column: str) -> str:
    lows = (0, *BUCKET_BOUNDS)
    parts = []
    for n, low in enumerate(lows):
        high = BUCKET_BOUNDS[n] if n < len(BUCKET_BOUNDS) else None
        test = f"{column} >= {low}" + (f" AND {column} < {high}" if high else "")
        parts.append(f"count(*) FILTER (WHERE {test}) AS {column}_b{n}")
    return ",\n           ".join(parts)


_DISTRIBUTIONS = text(f"""
    WITH d AS (
        -- greatest() skips NULLs, so an unread message needs its CASE to stay unread.
        SELECT CASE WHEN delivered_at IS NOT NULL
                    THEN greatest(extract(epoch FROM delivered_at - sent_at), 0) END AS deliver_s,
               CASE WHEN read_at IS NOT NULL
                    THEN greatest(extract(epoch FROM read_at - sent_at), 0) END AS read_s
          FROM messages
         WHERE shop_id = :shop_id AND campaign_id = :campaign_id
           AND status IN ('delivered', 'read') AND sent_at IS NOT NULL
    )
    SELECT count(deliver_s) AS deliver_n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY deliver_s) AS deliver_p50,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY deliver_s) AS deliver_p90,
           count(read_s) AS read_n,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY read_s) AS read_p50,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY read_s) AS read_p90,
           {_bucket_columns("deliver_s")},
           {_bucket_columns("read_s")}
      FROM d
""")


def _distribution(row, prefix: str) -> dict:
    counts = [getattr(row, f"{prefix}_s_b{n}") for n in range(len(BUCKET_LABELS))]
    return {
        "count": getattr(row, f"{prefix}_n"),
        "median_s": _seconds(getattr(row, f"{prefix}_p50")),
        "p90_s": _seconds(getattr(row, f"{prefix}_p90")),
        "histogram": [
            {"label": label, "upper_s": upper, "count": count}
            for label, upper, count in zip(BUCKET_LABELS, (*BUCKET_BOUNDS, None), counts, strict=True)
        ],
    }


def _seconds(value) -> float | None:
    return None if value is None else round(float(value), 1)


def timings(session: Session, shop_id: int, campaign_id: int) -> dict:
    """``{"deliver": {...}, "read": {...}}``, each with count, median_s, p90_s and histogram."""
    row = session.execute(_DISTRIBUTIONS, {"shop_id": shop_id, "campaign_id": campaign_id}).one()
    return {"deliver": _distribution(row, "deliver"), "read": _distribution(row, "read")}
