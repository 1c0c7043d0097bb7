"""Campaign counters recomputed from the messages themselves (the reconciliation path).

The drain keeps the counters exact incrementally; this GROUP BY is the definition they must
equal (DESIGN.md's metric definitions), used by the seed loader and MonitorCampaignJob.

Safe beside a concurrent drain: we lock the campaign rows first, then tally in a second
statement. Under READ COMMITTED that statement sees every drain batch that committed before
our lock; a batch that commits later has to wait for our lock before it adds its deltas to the
counters, and its message changes are not in our tally, so nothing is counted twice or lost.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text, update
from sqlalchemy.orm import Session

from core.counts.billed import recount_billed
from core.counts.failures import recount_failures
from core.counts.funnel import METRICS_SQL
from core.counts.timings import recount_timings
from core.counts.variants import recount_variants
from core.models import Campaign

COUNTER_COLUMNS = (
    "messages_count",
    "sent_count",
    "delivered_count",
    "read_count",
    "failed_count",
    "clicked_count",
)
# Dispatch progress, kept by dispatch alone (the drain never moves them): submitted = handed
# to Meta (``submitted_at``, set before the request leaves, so also every message with a wamid);
# failed before send = failed without ever reaching Meta (our pre-send codes, or left unsent
# when a campaign was halted).
PROGRESS_COLUMNS = ("submitted_count", "failed_before_send_count")
_TRACKED = COUNTER_COLUMNS + PROGRESS_COLUMNS

_LOCK = text(f"""
    SELECT id, {", ".join(_TRACKED)} FROM campaigns
     WHERE shop_id = :shop_id AND id = ANY(:campaign_ids)
     ORDER BY id
       FOR UPDATE
""")

# One pass over the campaigns' messages (a hash aggregate that PostgreSQL can run in parallel),
# and the clicks counted from the clicks side, which is small: a per-message EXISTS or a join
# grouped by campaign would cost a probe or a sort per message (seconds at a million messages).
_TALLY = text(f"""
    SELECT m.campaign_id AS id, {METRICS_SQL},
           count(m.submitted_at) AS submitted_count,
           count(*) FILTER (WHERE m.status = 'failed' AND m.submitted_at IS NULL AND m.wamid IS NULL)
               AS failed_before_send_count
      FROM messages m
     WHERE m.shop_id = :shop_id AND m.campaign_id = ANY(:campaign_ids)
     GROUP BY m.campaign_id
""")

_CLICKED = text("""
    SELECT m.campaign_id AS id, count(DISTINCT k.message_id) AS clicked_count
      FROM clicks k
      JOIN messages m ON m.shop_id = k.shop_id AND m.id = k.message_id
     WHERE k.shop_id = :shop_id AND m.campaign_id = ANY(:campaign_ids)
     GROUP BY m.campaign_id
""")


def recount(session: Session, shop_id: int, campaign_ids: Sequence[int]) -> list[dict]:
    """Set the campaigns' counters, their time distributions (core/counts/timings.py), failure
    breakdowns (core/counts/failures.py), billed groups (core/counts/billed.py) and variants' funnels
    (core/counts/variants.py) to the GROUP BY of their
    messages. Return one entry per campaign whose counters had drifted, with the old and new
    values, and one per campaign and kept table that had, for the caller to log."""
    if not campaign_ids:
        return []
    params = {"shop_id": shop_id, "campaign_ids": list(campaign_ids)}
    before = {row.id: row._mapping for row in session.execute(_LOCK, params)}
    tallies = {campaign_id: dict.fromkeys(_TRACKED, 0) for campaign_id in before}
    for row in session.execute(_TALLY, params):
        tallies[row.id].update({col: value for col, value in row._mapping.items() if col != "id"})
    for row in session.execute(_CLICKED, params):
        tallies[row.id]["clicked_count"] = row.clicked_count
    drifts = []
    for campaign_id, new in tallies.items():
        old = {col: before[campaign_id][col] for col in _TRACKED}
        if new != old:
            session.execute(
                update(Campaign).where(Campaign.shop_id == shop_id, Campaign.id == campaign_id).values(**new)
            )
            drifts.append({"campaign_id": campaign_id, "old": old, "new": new})
    kept = (
        ("timings", recount_timings),
        ("failures", recount_failures),
        ("billed", recount_billed),
        ("variants", recount_variants),
    )
    for name, recount_kept in kept:
        for campaign_id in recount_kept(session, shop_id, list(before)):
            drifts.append({"campaign_id": campaign_id, "old": {name: "drifted"}, "new": {name: "rebuilt"}})
    return drifts
