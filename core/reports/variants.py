"""An A/B campaign's variants side by side: each one's funnel, clicks, orders and revenue, and
the read-out of which is better on the campaign's metric (core/experiments/readout.py).

The funnel is each variant's kept row (core/counts/variants.py: DESIGN.md's definitions over the
variant's messages, kept by every writer), so a read costs a few rows whatever the campaign's
size; orders and revenue are the campaign's attributed orders (core/outcomes/attribution.py,
computed when asked, never stored), each counted for the variant of the message that won it.
The metrics the variants compete on:

- ``read_rate``: read ÷ delivered (as on the campaign page; a lower bound, read receipts can be off);
- ``click_rate``: clicked ÷ delivered (not ÷ read: a click without a read receipt still counts);
- ``orders_per_recipient`` and ``revenue_per_recipient``: per message the variant created.

Each variant's cost is its kept billed groups (core/counts/billed.py) priced as the campaign's are
(core/outcomes/pricing.py).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.counts.variants import variant_counts
from core.experiments.readout import Arm, readout
from core.models import Campaign, Shop
from core.outcomes.attribution import attributed_orders
from core.outcomes.pricing import Priced, groups_of, price, shop_pricing
from core.reports.metrics import Metrics, rates, ratio
from core.reports.outcomes import RATE_PLACES
from core.rules.campaign_states import SETTLED_STATUSES

# Each variant's billed messages by the groups the rate card prices, from the kept groups
# (core/counts/billed.py BILLED_GROUPS, per variant; the template's category until Meta said one).
BILLED_BY_VARIANT = text("""
    SELECT b.variant_id, b.day, b.prefix,
           lower(COALESCE(NULLIF(b.pricing_category, ''), k.template_category)) AS category,
           sum(b.messages)::bigint AS n  -- sum(bigint) is numeric
      FROM campaign_billed_counts b
      JOIN campaigns k ON k.shop_id = :shop_id AND k.id = :campaign_id
     WHERE b.shop_id = :shop_id AND b.campaign_id = :campaign_id AND b.messages <> 0
     GROUP BY 1, 2, 3, 4
""")

ORDER_METRICS = {"orders_per_recipient", "revenue_per_recipient"}


def variants_report(
    session: Session, shop: Shop, campaign: Campaign, *, at_horizon: bool | None = None
) -> tuple[list[dict], dict] | None:
    """The contract's ``variants`` and ``experiment`` of an A/B campaign; None without variants.
    ``at_horizon``: read the experiment as complete (a test then send's test, its hours run),
    instead of by the campaign's state."""
    if not campaign.variants:
        return None
    keys = {"shop_id": shop.id, "campaign_id": campaign.id}
    tallies = variant_counts(session, shop.id, campaign.id)
    per_message = _orders_per_message(session, shop, campaign)
    pricing = shop_pricing(session, shop)
    billed = groups_of(session.execute(BILLED_BY_VARIANT, keys), key=lambda group: group.key.variant_id)
    costs = price(session, shop.id, pricing, billed)
    exponent_places = Decimal("0.01")
    variants, arms = [], []
    for variant in campaign.variants:
        number = variant["id"]
        metrics = tallies.get(number, Metrics())
        orders = per_message.get(number, {})
        revenue = sum((value for _, value in orders.values()), Decimal(0))
        variants.append(
            {
                "id": number,
                "name": variant["name"],
                "share": variant["share"],
                "template": {key: variant["template"][key] for key in ("name", "language")},
                "metrics": metrics.as_dict() | {"orders": sum(count for count, _ in orders.values())},
                "rates": rates(metrics) | {"click_rate": ratio(metrics.clicked, metrics.delivered)},
                "revenue": {"amount": str(revenue.quantize(exponent_places)), "currency": shop.currency},
                "cost": _cost(costs.get(number), pricing.currency),
            }
        )
        arm = _arm(campaign.experiment_metric, number, metrics, orders)
        variants[-1]["value"] = round(arm.total / arm.trials, 4) if arm.trials else None  # on the metric
        arms.append(arm)
    horizon = _at_horizon(shop, campaign) if at_horizon is None else at_horizon
    experiment = readout(arms, campaign.experiment_metric, at_horizon=horizon, seed=campaign.id)
    return variants, experiment


def _cost(priced: Priced | None, currency: str | None) -> dict | None:
    """What Meta charges for the variant's billed messages, as the campaign's cost is priced;
    null before any is billed or when no card prices them."""
    if priced is None or priced.billed == priced.unpriced or currency is None:
        return None
    return {"amount": f"{priced.amount.quantize(RATE_PLACES, ROUND_HALF_UP)}", "currency": currency}


def _orders_per_message(session: Session, shop: Shop, campaign: Campaign) -> dict[int, dict[int, tuple]]:
    """Per variant, per message that won orders: (orders, net revenue)."""
    orders = attributed_orders(session, shop.id, shop.attribution_window_days, [campaign.id])
    won: dict[tuple[int | None, int], list] = defaultdict(lambda: [0, Decimal(0)])
    for order in orders:
        won[(order.variant_id, order.message_id)][0] += 1
        won[(order.variant_id, order.message_id)][1] += order.net
    found: dict[int, dict[int, tuple]] = defaultdict(dict)
    for (variant_id, message_id), (count, net) in won.items():
        found[variant_id][message_id] = (count, net)
    return found


def _arm(metric: str, number: int, metrics: Metrics, orders: dict[int, tuple]) -> Arm:
    if metric == "read_rate":
        return Arm(number, metrics.delivered, metrics.read)
    if metric == "click_rate":
        return Arm(number, metrics.delivered, metrics.clicked)
    values = [float(count if metric == "orders_per_recipient" else net) for count, net in orders.values()]
    return Arm(number, metrics.messages, sum(values), sum(v * v for v in values))


def _at_horizon(shop: Shop, campaign: Campaign) -> bool:
    """The experiment's data is complete: the campaign settled and, for orders, its window closed."""
    if campaign.status not in SETTLED_STATUSES:
        return False
    if campaign.experiment_metric not in ORDER_METRICS:
        return True
    since = campaign.dispatch_started_at or campaign.launched_at
    return datetime.now(UTC) >= since + timedelta(days=shop.attribution_window_days)
