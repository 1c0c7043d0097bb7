"""Which campaign an order counts for: last touch inside the shop's window.

An order counts for the campaign whose message most recently reached the customer before the
order, within ``shops.attribution_window_days``: a click beats a read, and a read beats a
delivery (a message someone clicked did more than one that was only read, whenever each came).
Only real, paid orders count (core/rules/order_states.py): a test, unpaid, voided or cancelled
order is attributed the same way but left out of the orders and the revenue, and counted by why
it was left out, so the report can say so. Refunds lower the revenue, in the shop's currency.

Nothing about the attribution is stored. It is computed, when asked, from the orders and the
messages' own touch times, so it is a pure function of what we know: the same whatever order
Meta's statuses and Shopify's order webhooks arrived in, and it moves by itself when a late
``read`` or a click turns up after the order was stored.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.rules.order_states import COUNTED_FINANCIAL_STATUSES, LEFT_OUT_REASONS, VOIDED

# Why an order is left out (NULL when it counts); the reasons in LEFT_OUT_REASONS' order.
_LEFT_OUT = f"""
    CASE WHEN o.test THEN 'test'
         WHEN o.cancelled_at IS NOT NULL THEN 'cancelled'
         WHEN o.financial_status = '{VOIDED}' THEN 'voided'
         WHEN o.financial_status NOT IN ({", ".join(f"'{s}'" for s in COUNTED_FINANCIAL_STATUSES)})
              THEN 'unpaid'
    END
"""

# What an order ``o`` of the shop :shop_id brought in: its total less what was refunded, in the
# shop's currency (a refund above the total, as a refund of shipping can be, nets to nothing).
NET_SQL = """GREATEST(o.total - COALESCE((SELECT sum(r.amount) FROM order_refunds r
                                           WHERE r.shop_id = :shop_id
                                             AND r.shopify_order_id = o.shopify_order_id), 0), 0)"""
# The order ``o`` counts: real and paid (_LEFT_OUT gives no reason to leave it out).
COUNTED_SQL = f"({_LEFT_OUT}) IS NULL"

# One row per attributed order of the given campaigns. Candidate orders are those of customers
# who got a message of these campaigns; for each, the lateral picks the winning touch among
# all of that customer's messages (of any campaign): a campaign only gets the orders it won.
# Every table is tied to :shop_id itself, not through another table's shop_id: on Citus the
# statement then runs whole on the shop's shard (a correlated tie does not tell Citus the shard).
_ATTRIBUTED = text(f"""
    WITH candidates AS (
        SELECT o.shopify_order_id, o.ordered_at, o.currency, c.id AS customer_id, o.total AS gross,
               o.presentment_total, o.presentment_currency,
               {NET_SQL} AS net,
               {_LEFT_OUT} AS left_out
          FROM orders o
          JOIN customers c ON c.shop_id = :shop_id AND c.shopify_customer_id = o.shopify_customer_id
         WHERE o.shop_id = :shop_id
           AND EXISTS (SELECT 1 FROM messages m
                        WHERE m.shop_id = :shop_id AND m.customer_id = c.id
                          AND m.campaign_id = ANY(CAST(:campaign_ids AS bigint[])))
    )
    SELECT best.campaign_id, best.message_id, best.variant_id, best.touch, cand.shopify_order_id,
           cand.ordered_at, cand.net, cand.gross, cand.currency, cand.left_out, cand.presentment_total,
           cand.presentment_currency
      FROM candidates cand
     CROSS JOIN LATERAL (
        SELECT m.campaign_id, m.id AS message_id, m.variant_id, t.touch
          FROM messages m
         CROSS JOIN LATERAL (
            SELECT 3 AS touch, (SELECT max(k.clicked_at) FROM clicks k
                                 WHERE k.shop_id = :shop_id AND k.message_id = m.id
                                   AND k.clicked_at <= cand.ordered_at) AS at
            UNION ALL SELECT 2, CASE WHEN m.read_at <= cand.ordered_at THEN m.read_at END
            UNION ALL SELECT 1, CASE WHEN m.delivered_at <= cand.ordered_at THEN m.delivered_at END
         ) t
         WHERE m.shop_id = :shop_id AND m.customer_id = cand.customer_id
           AND t.at > cand.ordered_at - make_interval(days => :window_days)
         ORDER BY t.touch DESC, t.at DESC, m.id DESC
         LIMIT 1
     ) best
     WHERE best.campaign_id = ANY(CAST(:campaign_ids AS bigint[]))
       AND (cand.left_out IS NULL OR :with_left_out)
""")

TOUCHES = {3: "click", 2: "read", 1: "delivery"}


@dataclass(frozen=True)
class AttributedOrder:
    campaign_id: int
    message_id: int
    touch: str  # click, read or delivery
    shopify_order_id: int
    ordered_at: datetime
    net: Decimal  # total less refunds
    currency: str
    left_out: str | None = None  # why it does not count (LEFT_OUT_REASONS); None: it counts
    gross: Decimal = Decimal(0)  # the order's total as placed, before any refund
    presentment_total: Decimal | None = None  # the total as the customer paid it, if told
    presentment_currency: str | None = None
    variant_id: int | None = None  # of the message that won it, in an A/B campaign


@dataclass
class CampaignRevenue:
    orders: int = 0
    amount: Decimal = Decimal("0.00")  # net: what the orders brought in, less refunds
    gross: Decimal = Decimal("0.00")  # the same orders' totals as placed
    currencies: set[str] = field(default_factory=set)
    # The counted orders' totals as placed, by the currency the customers paid in (display only).
    paid_in: dict[str, Decimal] = field(default_factory=dict)
    # Orders this campaign would have won that do not count, by why (every reason present).
    left_out: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LEFT_OUT_REASONS, 0))

    def add(self, order: AttributedOrder) -> None:
        if order.left_out is not None:
            self.left_out[order.left_out] += 1
            return
        self.orders += 1
        self.amount += order.net
        self.gross += order.gross
        self.currencies.add(order.currency)
        if order.presentment_currency is not None and order.presentment_total is not None:
            paid = self.paid_in.get(order.presentment_currency, Decimal("0.00"))
            self.paid_in[order.presentment_currency] = paid + order.presentment_total

    def revenue(self, shop_currency: str, amount: Decimal | None = None) -> dict | None:
        """The contract's ``revenue`` {amount (decimal string), currency}: net, or ``amount``
        (the gross) when given; null before any order."""
        if not self.orders:
            return None
        currency = next(iter(self.currencies)) if len(self.currencies) == 1 else shop_currency
        return {"amount": f"{self.amount if amount is None else amount:.2f}", "currency": currency}


def attributed_orders(
    session: Session, shop_id: int, window_days: int, campaign_ids: list[int], *, with_left_out: bool = False
) -> list[AttributedOrder]:
    """Return every counted order attributed to one of ``campaign_ids``; ``with_left_out``
    adds the orders left out (test, unpaid, voided, cancelled), each with its reason."""
    if not campaign_ids:
        return []
    params = {
        "shop_id": shop_id,
        "window_days": window_days,
        "campaign_ids": list(campaign_ids),
        "with_left_out": with_left_out,
    }
    return [
        AttributedOrder(
            r.campaign_id,
            r.message_id,
            TOUCHES[r.touch],
            r.shopify_order_id,
            r.ordered_at,
            r.net,
            r.currency,
            r.left_out,
            r.gross,
            r.presentment_total,
            r.presentment_currency,
            r.variant_id,
        )
        for r in session.execute(_ATTRIBUTED, params)
    ]


def revenue_by_campaign(
    session: Session, shop_id: int, window_days: int, campaign_ids: list[int]
) -> dict[int, CampaignRevenue]:
    """Return orders, revenue and the orders left out per campaign (campaigns without any
    attributed order are absent)."""
    found: dict[int, CampaignRevenue] = defaultdict(CampaignRevenue)
    for order in attributed_orders(session, shop_id, window_days, campaign_ids, with_left_out=True):
        found[order.campaign_id].add(order)
    return dict(found)
