"""The funnel of each variant of an A/B campaign, kept rather than grouped on every read.

An A/B campaign's page shows each variant's messages, sent, delivered, read, failed and clicked
(core/reports/variants.py): the counters' definitions (core/counts/recount.py METRICS_SQL and the
clicked messages) over the variant's messages. Grouping a million messages by variant took seconds
on every cold read, so the counts live in ``campaign_variant_counts``, one row per (campaign,
variant), and every writer that moves a campaign counter adds the same change to the row of the
message's variant, in the same transaction: materialising the audience
(core/dispatch/materialise.py), dispatch (core/dispatch/claim.py, record.py), halts
(core/meta_webhooks/halt.py), expiry (core/campaigns/monitor.py), resume (core/campaigns/resume.py),
the drain (core/meta_webhooks/apply_statuses.py, clicks.py) and tracked links
(core/campaigns/tracking.py).

A message without a variant (``variant_id`` null: a campaign without variants) adds nothing, so
such a campaign writes no row and runs no extra statement. Rows are written after the writer has
locked the campaign row, in key order (core/counts/recount.py's lock order); the recount rebuilds
them from the messages (``recount_variants``) and corrects any drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.counts.funnel import METRICS_SQL, Metrics
from core.counts.kept_rows import RowChanges, rebuild

FUNNEL = ("messages", "sent", "delivered", "read", "failed", "clicked")

_ADD = text("""
    INSERT INTO campaign_variant_counts AS v
           (shop_id, campaign_id, variant_id, messages, sent, delivered, read, failed, clicked)
    SELECT * FROM unnest(CAST(:shop_ids AS bigint[]), CAST(:campaign_ids AS bigint[]),
                         CAST(:variant_ids AS smallint[]), CAST(:messages AS bigint[]),
                         CAST(:sent AS bigint[]), CAST(:delivered AS bigint[]), CAST(:read AS bigint[]),
                         CAST(:failed AS bigint[]), CAST(:clicked AS bigint[]))
        ON CONFLICT (shop_id, campaign_id, variant_id) DO UPDATE
       SET messages = v.messages + excluded.messages, sent = v.sent + excluded.sent,
           delivered = v.delivered + excluded.delivered, read = v.read + excluded.read,
           failed = v.failed + excluded.failed, clicked = v.clicked + excluded.clicked
""")


class VariantChanges(RowChanges):
    """Changes to the variants' funnels in one transaction, summed per (campaign, variant)."""

    UPSERT = _ADD
    PARAMS = ("shop_ids", "campaign_ids", "variant_ids", *FUNNEL)
    KEY_WIDTH = 1

    def add(
        self,
        shop_id: int,
        campaign_id: int,
        variant_id: int | None,
        *,
        messages: int = 0,
        sent: int = 0,
        delivered: int = 0,
        read: int = 0,
        failed: int = 0,
        clicked: int = 0,
    ) -> None:
        """Move the row of the message's variant; nothing for a message without one."""
        if variant_id is not None:
            self.add_to_row(
                (shop_id, campaign_id, variant_id), messages, sent, delivered, read, failed, clicked
            )

    def failed(self, shop_id: int, rows: Iterable) -> None:
        """Messages a statement failed from a status that did not count as failed, returning
        each one's ``campaign_id`` and ``variant_id``."""
        for row in rows:
            self.add(shop_id, row.campaign_id, row.variant_id, failed=1)


_READ = text("""
    SELECT variant_id, messages, sent, delivered, read, failed, clicked FROM campaign_variant_counts
     WHERE shop_id = :shop_id AND campaign_id = :campaign_id
""")


def variant_counts(session: Session, shop_id: int, campaign_id: int) -> dict[int, Metrics]:
    """Each variant's kept funnel (a variant without a message yet is absent)."""
    params = {"shop_id": shop_id, "campaign_id": campaign_id}
    return {row.variant_id: Metrics(*row[1:]) for row in session.execute(_READ, params)}


# The definition the rows must equal: METRICS_SQL per variant, and the clicked messages counted
# from the clicks side (small), as core/counts/recount.py counts the campaign's.
_TALLY = text(f"""
    SELECT t.campaign_id, t.variant_id, t.messages_count, t.sent_count, t.delivered_count, t.read_count,
           t.failed_count, COALESCE(k.clicked, 0) AS clicked
      FROM (SELECT m.campaign_id, m.variant_id, {METRICS_SQL}
              FROM messages m
             WHERE m.shop_id = :shop_id AND m.campaign_id = ANY(:campaign_ids) AND m.variant_id IS NOT NULL
             GROUP BY 1, 2) AS t
      LEFT JOIN (SELECT m.campaign_id, m.variant_id, count(DISTINCT k.message_id) AS clicked
                   FROM clicks k
                   JOIN messages m ON m.shop_id = k.shop_id AND m.id = k.message_id
                  WHERE k.shop_id = :shop_id AND m.shop_id = :shop_id AND m.campaign_id = ANY(:campaign_ids)
                    AND m.variant_id IS NOT NULL
                  GROUP BY 1, 2) AS k
        ON k.campaign_id = t.campaign_id AND k.variant_id = t.variant_id
""")
_STORED = text("""
    SELECT campaign_id, variant_id, messages, sent, delivered, read, failed, clicked
      FROM campaign_variant_counts
     WHERE shop_id = :shop_id AND campaign_id = ANY(:campaign_ids)
       AND (messages, sent, delivered, read, failed, clicked) <> (0, 0, 0, 0, 0, 0)
""")
_FORGET = text(
    "DELETE FROM campaign_variant_counts WHERE shop_id = :shop_id AND campaign_id = ANY(:campaign_ids)"
)


def recount_variants(session: Session, shop_id: int, campaign_ids: Sequence[int]) -> list[int]:
    """Rebuild the variants' rows of these campaigns from their messages (the caller holds their
    campaign rows locked, as core/counts/recount.py does); answer the campaigns that had drifted."""
    return rebuild(
        session, shop_id, campaign_ids, VariantChanges, tally=_TALLY, stored=_STORED, forget=_FORGET
    )
