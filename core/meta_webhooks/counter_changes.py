"""Campaign counter changes folded into the campaigns in the caller's transaction, with the time
distributions (core/counts/timings.py), failure breakdowns (core/counts/failures.py), billed messages
(core/counts/billed.py) and an A/B campaign's variants' funnels (core/counts/variants.py) kept beside them.

Each change is the old-to-new difference of one message's funnel flags (DESIGN.md's metric
definitions), so the counters stay equal to the GROUP BY of core/counts/recount.py whatever the order
in which events arrive. Campaign rows are locked in key order, after the messages they count
(the drain locks its messages first): core/counts/recount.py locks campaigns first and then only
reads messages, so the two orders cannot deadlock.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.counts.billed import BilledChanges
from core.counts.failures import FailureChanges
from core.counts.timings import TimingChanges
from core.counts.variants import VariantChanges
from core.rules.statuses import FAILED_STATUSES

FUNNEL = ("sent", "delivered", "read", "failed", "clicked")

_ADD = text(
    """
    WITH d AS (
        SELECT * FROM unnest(
            CAST(:shop_ids AS bigint[]), CAST(:campaign_ids AS bigint[]), CAST(:sent AS bigint[]),
            CAST(:delivered AS bigint[]), CAST(:read AS bigint[]), CAST(:failed AS bigint[]),
            CAST(:clicked AS bigint[])
        ) AS d(shop_id, campaign_id, sent, delivered, read, failed, clicked)
    ), locked AS (
        SELECT c.shop_id, c.id
          FROM campaigns c JOIN d ON c.shop_id = d.shop_id AND c.id = d.campaign_id
         WHERE c.shop_id = :shop_id
         ORDER BY c.shop_id, c.id
           FOR UPDATE OF c
    )
    UPDATE campaigns c
       SET sent_count = c.sent_count + d.sent,
           delivered_count = c.delivered_count + d.delivered,
           read_count = c.read_count + d.read,
           failed_count = c.failed_count + d.failed,
           clicked_count = c.clicked_count + d.clicked
      FROM locked l JOIN d ON d.shop_id = l.shop_id AND d.campaign_id = l.id
     WHERE c.shop_id = :shop_id AND c.shop_id = l.shop_id AND c.id = l.id
    """
)


@dataclass(frozen=True, slots=True)
class Funnel:
    """Where one message stands in the funnel: the flags the counters count."""

    sent: bool
    delivered: bool
    read: bool
    failed: bool

    @classmethod
    def of(cls, *, wamid: str | None, status: str, delivered: bool, read: bool) -> Funnel:
        return cls(wamid is not None, delivered, read, status in FAILED_STATUSES)


class CounterChanges:
    """Per (shop, campaign): how much each counter moves."""

    def __init__(self) -> None:
        self._by_campaign: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0] * len(FUNNEL))
        self.timings = TimingChanges()  # the distributions, kept alongside (core/counts/timings.py)
        self.failures = FailureChanges()  # the failure breakdown, likewise (core/counts/failures.py)
        self.billed = BilledChanges()  # the billed messages, likewise (core/counts/billed.py)
        self.variants = VariantChanges()  # the variants' funnels, likewise (core/counts/variants.py)

    def message_moved(
        self, shop_id: int, campaign_id: int, old: Funnel, new: Funnel, variant_id: int | None = None
    ) -> None:
        if old == new:
            return
        totals = self._by_campaign[(shop_id, campaign_id)]
        moves = {name: int(getattr(new, name)) - int(getattr(old, name)) for name in FUNNEL[:-1]}
        for i, name in enumerate(FUNNEL[:-1]):
            totals[i] += moves[name]
        self.variants.add(shop_id, campaign_id, variant_id, **moves)

    def add(
        self, shop_id: int, campaign_id: int, variant_id: int | None, delivered: int, read: int, failed: int
    ) -> None:
        """Changes already summed by SQL per variant (messages that had their wamid: sent does
        not move)."""
        totals = self._by_campaign[(shop_id, campaign_id)]
        totals[1] += delivered
        totals[2] += read
        totals[3] += failed
        self.variants.add(shop_id, campaign_id, variant_id, delivered=delivered, read=read, failed=failed)

    def message_clicked(self, shop_id: int, campaign_id: int, variant_id: int | None) -> None:
        self._by_campaign[(shop_id, campaign_id)][-1] += 1
        self.variants.add(shop_id, campaign_id, variant_id, clicked=1)

    def apply(self, session: Session, shop_id: int) -> None:
        """Add the changes, all of ``shop_id``, to the campaigns' counters (one statement,
        campaigns in key order; it names the shop, so on Citus it runs on one shard)."""
        moved = [(key, values) for key, values in sorted(self._by_campaign.items()) if any(values)]
        if any(key[0] != shop_id for key, _ in moved):
            raise ValueError(f"counter changes of other shops than {shop_id}")
        if moved:
            params = {
                "shop_id": shop_id,
                "shop_ids": [k[0] for k, _ in moved],
                "campaign_ids": [k[1] for k, _ in moved],
            }
            for i, name in enumerate(FUNNEL):
                params[name] = [values[i] for _, values in moved]
            session.execute(_ADD, params)
        # After the campaigns: the lock order of core/counts/recount.py.
        self.timings.apply(session)
        self.failures.apply(session)
        self.billed.apply(session)
        self.variants.apply(session)
