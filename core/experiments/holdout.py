"""A campaign's holdout: the share of its audience it kept unsent, and what the campaign caused
beyond it.

Over the campaign's window (from when its audience was split, for the shop's attribution window),
every counted order of each group is added up per customer: the treated group is everyone the
campaign meant to message (intention to treat: a message that failed still counts, or the
groups would no longer be alike), the held-out group everyone it kept. Orders here are all of a
customer's real, paid orders in the window, attributed or not, net of refunds in the shop's
currency (core/outcomes/attribution.py's rules): the question is how many more orders the
campaign's customers placed than they would have without it, not which campaign each order is
credited to. core/experiments/stats.py turns the two groups into the incremental figures.

Meta runs experiments of its own: a recipient in one gets no marketing message and a 130472
failure. Those customers are reported beside the holdout (``meta_experiment``); they stay in
the treated group, as the campaign meant to message them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from babel.numbers import get_currency_precision
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.experiments.stats import CONFIDENCE, MIN_GROUP, Effect, Group, incremental, money
from core.models import Campaign, Shop
from core.outcomes.attribution import COUNTED_SQL, NET_SQL
from core.rules.failure_codes import META_EXPERIMENT

METHOD = (
    "Difference of mean net revenue per customer between the customers the campaign was sent to "
    "and the customers it held out at random, times the customers sent to; "
    f"{int(CONFIDENCE * 100)}% interval by Welch's normal approximation."
)

# One group's sums over its customers who ordered in the window: orders are few next to the
# audience, so they are summed per buyer first, each buyer kept when the group holds it; a
# customer without an order adds 0 to every sum and is only counted (the groups' sizes are the
# campaign's counters). One plain statement per group, every table tied to :shop_id itself, so
# that on Citus each runs whole on the shop's shard.
_GROUP_SUMS = """
    SELECT count(*) AS buyers,
           COALESCE(sum(b.orders), 0) AS orders, COALESCE(sum(b.orders * b.orders), 0) AS orders_sq,
           COALESCE(sum(b.revenue), 0) AS revenue, COALESCE(sum(b.revenue * b.revenue), 0) AS revenue_sq
      FROM (SELECT c.id, count(*) AS orders, sum({net}) AS revenue
              FROM orders o
              JOIN customers c ON c.shop_id = :shop_id AND c.shopify_customer_id = o.shopify_customer_id
             WHERE o.shop_id = :shop_id AND o.ordered_at >= :since AND o.ordered_at < :until AND {counted}
               AND c.id IN ({members})
             GROUP BY c.id) AS b
"""
_MEMBERS = {
    True: "SELECT customer_id FROM messages WHERE shop_id = :shop_id AND campaign_id = :campaign_id",
    False: (
        "SELECT customer_id FROM campaign_holdouts WHERE shop_id = :shop_id AND campaign_id = :campaign_id"
    ),
}
_SUMS = {
    side: text(_GROUP_SUMS.format(net=NET_SQL, counted=COUNTED_SQL, members=members))
    for side, members in _MEMBERS.items()
}

_META_EXPERIMENT = text("""
    SELECT count(DISTINCT customer_id) FROM messages
     WHERE shop_id = :shop_id AND campaign_id = :campaign_id AND status = 'failed' AND error_code = :code
""")


def window(campaign: Campaign, shop: Shop, now: datetime | None = None) -> tuple[datetime, datetime, bool]:
    """When the campaign's orders are counted from and until, and whether that window is still
    open (its figures will move)."""
    since = campaign.dispatch_started_at or campaign.launched_at
    until = since + timedelta(days=shop.attribution_window_days)
    return since, until, (now or datetime.now(UTC)) < until


def holdout_report(session: Session, shop: Shop, campaign: Campaign) -> dict | None:
    """The contract's ``Campaign.holdout``, or None for a campaign without one. Before the
    audience is split there is only the share."""
    if not campaign.holdout_share:
        return None
    report: dict = {"share": campaign.holdout_share, "method": METHOD, "min_group": MIN_GROUP}
    if campaign.dispatch_started_at is None:
        return report | {"customers": None, "orders": None, "revenue": None, "incremental_revenue": None}
    since, until, still_open = window(campaign, shop)
    params = {"shop_id": shop.id, "campaign_id": campaign.id, "since": since, "until": until}
    sums = {side: session.execute(statement, params).one() for side, statement in _SUMS.items()}
    # Every message the campaign created is one treated customer (one message per customer).
    sizes = {True: campaign.messages_count, False: campaign.held_out_count}
    treated, held = (_Sums.of(sizes[side], sums.get(side)) for side in (True, False))
    exponent = get_currency_precision(shop.currency)
    revenue = incremental(_group(treated, "revenue"), _group(held, "revenue"))
    orders = incremental(_group(treated, "orders"), _group(held, "orders"))
    code = {"shop_id": shop.id, "campaign_id": campaign.id, "code": META_EXPERIMENT}
    return report | {
        "customers": held.n,
        "orders": int(held.orders),
        "revenue": _money(held.revenue, shop.currency, exponent),
        "treated": {
            "customers": treated.n,
            "orders": int(treated.orders),
            "revenue": _money(treated.revenue, shop.currency, exponent),
        },
        "incremental_revenue": revenue and _interval(revenue, exponent) | {"currency": shop.currency},
        "incremental_orders": orders and _interval(orders, 1),
        "window": {"from": since.isoformat(), "until": until.isoformat(), "open": still_open},
        "meta_experiment": {
            "code": META_EXPERIMENT,
            "customers": session.scalar(_META_EXPERIMENT, code),
        },
    }


@dataclass(frozen=True)
class _Sums:
    """One group: its size, and its buyers' sums (zeros without a buyer)."""

    n: int
    orders: Decimal
    orders_sq: Decimal
    revenue: Decimal
    revenue_sq: Decimal

    @classmethod
    def of(cls, n: int, row) -> _Sums:
        if row is None:
            return cls(n, Decimal(0), Decimal(0), Decimal(0), Decimal(0))
        return cls(n, row.orders, row.orders_sq, row.revenue, row.revenue_sq)


def _group(sums: _Sums, column: str) -> Group:
    return Group(sums.n, float(getattr(sums, column)), float(getattr(sums, f"{column}_sq")))


def _interval(effect: Effect, exponent: int) -> dict:
    return {name: money(getattr(effect, name), exponent) for name in ("amount", "low", "high")}


def _money(amount, currency: str, exponent: int) -> dict:
    return {"amount": money(amount, exponent), "currency": currency}


_HELD_OUT = text("""
    SELECT h.customer_id, c.shopify_customer_id, c.first_name, c.last_name, c.phone_e164
      FROM campaign_holdouts h
      LEFT JOIN customers c ON c.shop_id = :shop_id AND c.id = h.customer_id
     WHERE h.shop_id = :shop_id AND h.campaign_id = :campaign_id AND h.customer_id > :after
     ORDER BY h.customer_id
     LIMIT :limit
""")


def held_out_customers(
    session: Session, shop_id: int, campaign_id: int, after: int, limit: int
) -> list[dict]:
    """Up to ``limit`` held-out customers after the customer id ``after``, in id order; a
    customer erased since keeps its row with no name or number."""
    params = {"shop_id": shop_id, "campaign_id": campaign_id, "after": after, "limit": limit}
    return [
        {
            "id": row.customer_id,
            "shopify_id": row.shopify_customer_id,
            "name": " ".join(part for part in (row.first_name, row.last_name) if part) or None,
            "phone": row.phone_e164,
        }
        for row in session.execute(_HELD_OUT, params)
    ]
