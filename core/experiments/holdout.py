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

from datetime import UTC, datetime, timedelta

from babel.numbers import get_currency_precision
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.experiments.stats import CONFIDENCE, MIN_GROUP, Effect, Group, incremental, money
from core.models import Campaign, Shop
from core.outcomes.attribution import COUNTED_SQL, NET_SQL

META_EXPERIMENT_CODE = "130472"

METHOD = (
    "Difference of mean net revenue per customer between the customers the campaign was sent to "
    "and the customers it held out at random, times the customers sent to; "
    f"{int(CONFIDENCE * 100)}% interval by Welch's normal approximation."
)

_GROUPS = text(f"""
    WITH members AS (
        SELECT DISTINCT m.customer_id, true AS treated FROM messages m
         WHERE m.shop_id = :shop_id AND m.campaign_id = :campaign_id AND m.customer_id IS NOT NULL
        UNION ALL
        SELECT h.customer_id, false FROM campaign_holdouts h
         WHERE h.shop_id = :shop_id AND h.campaign_id = :campaign_id
    ), per_customer AS (
        SELECT g.treated, count(o.net) AS orders, COALESCE(sum(o.net), 0) AS revenue
          FROM members g
          LEFT JOIN customers c ON c.shop_id = :shop_id AND c.id = g.customer_id
          LEFT JOIN LATERAL (
                SELECT {NET_SQL} AS net FROM orders o
                 WHERE o.shop_id = :shop_id AND o.shopify_customer_id = c.shopify_customer_id
                   AND o.ordered_at >= :since AND o.ordered_at < :until AND {COUNTED_SQL}
          ) o ON true
         GROUP BY g.treated, g.customer_id
    )
    SELECT treated, count(*) AS n,
           sum(orders) AS orders, sum(orders * orders) AS orders_sq,
           sum(revenue) AS revenue, sum(revenue * revenue) AS revenue_sq
      FROM per_customer GROUP BY treated
""")

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
    groups = {row.treated: row for row in session.execute(_GROUPS, params)}
    treated, held = groups.get(True), groups.get(False)
    exponent = get_currency_precision(shop.currency)
    revenue = incremental(_group(treated, "revenue"), _group(held, "revenue"))
    orders = incremental(_group(treated, "orders"), _group(held, "orders"))
    code = {"shop_id": shop.id, "campaign_id": campaign.id, "code": META_EXPERIMENT_CODE}
    return report | {
        "customers": held.n if held else 0,
        "orders": int(held.orders) if held else 0,
        "revenue": _money(held.revenue if held else 0, shop.currency, exponent),
        "treated": {
            "customers": treated.n if treated else 0,
            "orders": int(treated.orders) if treated else 0,
            "revenue": _money(treated.revenue if treated else 0, shop.currency, exponent),
        },
        "incremental_revenue": revenue and _interval(revenue, exponent) | {"currency": shop.currency},
        "incremental_orders": orders and _interval(orders, 1),
        "window": {"from": since.isoformat(), "until": until.isoformat(), "open": still_open},
        "meta_experiment": {
            "code": META_EXPERIMENT_CODE,
            "customers": session.scalar(_META_EXPERIMENT, code),
        },
    }


def _group(row, column: str) -> Group:
    if row is None:
        return Group(0, 0.0, 0.0)
    return Group(row.n, float(getattr(row, column)), float(getattr(row, f"{column}_sq")))


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
