"""What campaigns earned and cost: attributed orders and revenue (core/outcomes/attribution.py), Meta's
charges from the rate cards (core/outcomes/pricing.py), and the ratios a merchant compares them by.

Cost counts billed messages only (delivered, and billable by Meta's pricing: core/outcomes/credits.py
BILLED_SQL), grouped by the day they were sent, the recipient's calling code and the pricing
category Meta reported (the template's category until a status carried one): groups kept as
messages move (core/counts/billed.py), so a campaign of a million is priced from a few rows, each
by the card in force on its day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.counts.billed import BILLED_GROUPS
from core.models import Campaign, Shop
from core.outcomes.attribution import CampaignRevenue, attributed_orders, revenue_by_campaign
from core.outcomes.pricing import Priced, Pricing, groups_of, price, shop_pricing

RATE_PLACES = Decimal("0.0001")


class CampaignCost(Priced):
    """A campaign's billed messages and what they cost (core/outcomes/pricing.py's Priced)."""

    def as_json(self, currency: str | None) -> dict | None:
        if not self.billed or currency is None or self.unpriced == self.billed:
            return None
        return {"amount": f"{self.amount.quantize(RATE_PLACES, ROUND_HALF_UP)}", "currency": currency}


def costs_by_campaign(
    session: Session, shop_id: int, pricing: Pricing, campaign_ids: list[int]
) -> dict[int, CampaignCost]:
    """Return each campaign's billed messages priced by the card in force on each day."""
    if not campaign_ids:
        return defaultdict(CampaignCost)
    rows = session.execute(BILLED_GROUPS, {"shop_id": shop_id, "campaign_ids": list(campaign_ids)})
    priced = price(session, shop_id, pricing, groups_of(rows, key=lambda group: group.key.campaign_id))
    found: dict[int, CampaignCost] = defaultdict(CampaignCost)
    for campaign_id, p in priced.items():
        found[campaign_id] = CampaignCost(p.billed, p.amount, p.unpriced, p.cards, p.stale)
    return found


def rate_card_json(pricing: Pricing, cost: Priced) -> dict:
    """Which rates priced the cost, as the API shows them: the override, or Meta's cards (by
    effective date) in the account's currency, with what the merchant should know."""
    cards = sorted(cost.cards)
    newest = pricing.cards[-1].effective if pricing.cards else None
    notes = [pricing.problem] if pricing.problem else []
    if pricing.cards and not pricing.override and pricing.waba_currency is None:
        notes.append(f"Meta has not told the app this account's currency yet: priced in {pricing.currency}.")
    for revision in sorted(cost.stale):
        notes.append(
            f"Meta revised its rates on {revision}; the app has no {pricing.currency} card for it, so "
            "messages sent since are priced at the older card's rates."
        )
    if cost.unpriced and cost.billed:
        notes.append(f"{cost.unpriced} billed messages went to markets the card has no confirmed rate for.")
    return {
        "currency": pricing.currency,
        "effective": cards[-1] if cards else newest,
        "override": pricing.override,
        "cards": cards,
        "account_currency": pricing.waba_currency,
        "notes": notes,
    }


def _ratio(part: Decimal | int, whole: Decimal | int) -> float | None:
    return None if not whole else round(float(Decimal(part) / Decimal(whole)), 4)


def _per(cost: CampaignCost, count: int) -> str | None:
    return (
        None
        if not cost.billed or not count
        else f"{(cost.amount / count).quantize(RATE_PLACES, ROUND_HALF_UP)}"
    )


def outcome_json(
    campaign: Campaign, revenue: CampaignRevenue, cost: CampaignCost, pricing: Pricing, shop: Shop
) -> dict:
    """Return the campaign's orders, revenue, cost and their ratios, as the API shows them."""
    revenue_json = revenue.revenue(shop.currency)
    cost_json = cost.as_json(pricing.currency)
    same_currency = revenue_json and cost_json and revenue_json["currency"] == cost_json["currency"]
    return {
        "orders": revenue.orders,
        "revenue": revenue_json,
        # The same orders before refunds; revenue is this less what was refunded.
        "gross_revenue": revenue.revenue(shop.currency, revenue.gross),
        # The same totals as the customers paid them, per presentment currency, largest first:
        # shown beside revenue, never added to it (Shopify converts; revenue is in shop money).
        "paid_in": [
            {"amount": f"{amount:.2f}", "currency": currency}
            for currency, amount in sorted(revenue.paid_in.items(), key=lambda item: (-item[1], item[0]))
        ],
        # Orders the campaign won that revenue does not count, by why (core/rules/order_states.py).
        "orders_left_out": dict(revenue.left_out),
        "cost": cost_json,
        "billed_messages": cost.billed,
        "unpriced_messages": cost.unpriced,  # billed, but the rate card has no rate for them
        "conversion_rate": _ratio(revenue.orders, campaign.delivered_count),
        "return_on_spend": _ratio(revenue.amount, cost.amount) if same_currency else None,
        "cost_per": {
            "delivered": _per(cost, campaign.delivered_count),
            "read": _per(cost, campaign.read_count),
            "click": _per(cost, campaign.clicked_count),
            "order": _per(cost, revenue.orders),
        },
        "rate_card": rate_card_json(pricing, cost),
    }


# How each reason reads in "Left out: ...", singular and plural.
_LEFT_OUT_WORDS = {
    "test": ("test order", "test orders"),
    "unpaid": ("unpaid", "unpaid"),
    "voided": ("voided", "voided"),
    "cancelled": ("cancelled", "cancelled"),
}


def left_out_sentence(left_out: dict[str, int]) -> str:
    """``Left out: 2 test orders, 1 unpaid and 1 cancelled.``, or "" when nothing was."""
    parts = [f"{n} {_LEFT_OUT_WORDS[reason][n != 1]}" for reason, n in left_out.items() if n]
    if not parts:
        return ""
    listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
    return f"Left out: {listed}."


def campaign_outcomes(session: Session, shop: Shop, campaigns: list[Campaign]) -> dict[int, dict]:
    """Return ``outcome_json`` for each campaign, in two queries for the whole list."""
    ids = [c.id for c in campaigns]
    pricing = shop_pricing(session, shop)
    revenues = revenue_by_campaign(session, shop.id, shop.attribution_window_days, ids)
    costs = costs_by_campaign(session, shop.id, pricing, ids)
    return {
        c.id: outcome_json(
            c, revenues.get(c.id, CampaignRevenue()), costs.get(c.id, CampaignCost()), pricing, shop
        )
        for c in campaigns
    }


_CLICKS_BY_DAY = text("""
    SELECT floor(extract(epoch FROM k.clicked_at - :start) / 86400)::int AS day, count(*) AS n
      FROM clicks k
      JOIN messages m ON m.shop_id = k.shop_id AND m.id = k.message_id
     WHERE m.shop_id = :shop_id AND m.campaign_id = :campaign_id AND k.clicked_at >= :start
     GROUP BY 1
""")


def days_after_sending(session: Session, shop: Shop, campaign: Campaign) -> list[dict]:
    """Return clicks (every open) and attributed orders per day since the campaign was sent:
    day 0 is its first 24 hours. Covers the attribution window, or longer once later days
    have any."""
    start = campaign.dispatch_started_at or campaign.launched_at
    if start is None:
        return []
    keys = {"shop_id": shop.id, "campaign_id": campaign.id, "start": start}
    clicks = {row.day: row.n for row in session.execute(_CLICKS_BY_DAY, keys)}
    orders: dict[int, int] = defaultdict(int)
    for order in attributed_orders(session, shop.id, shop.attribution_window_days, [campaign.id]):
        orders[int((order.ordered_at - start).total_seconds() // 86400)] += 1
    last = max([shop.attribution_window_days, *clicks, *orders])
    return [{"day": d, "clicks": clicks.get(d, 0), "orders": orders.get(d, 0)} for d in range(last + 1)]


@dataclass(frozen=True)
class CampaignMoney:
    """What each of some campaigns earned and cost, read once for every grouping of them."""

    campaigns: list[Campaign]
    pricing: Pricing
    revenues: dict[int, CampaignRevenue]
    costs: dict[int, CampaignCost]


def campaign_money(session: Session, shop: Shop, campaigns: list[Campaign]) -> CampaignMoney:
    ids = [c.id for c in campaigns]
    pricing = shop_pricing(session, shop)
    revenues = revenue_by_campaign(session, shop.id, shop.attribution_window_days, ids)
    return CampaignMoney(campaigns, pricing, revenues, costs_by_campaign(session, shop.id, pricing, ids))


def grouped_outcomes(shop: Shop, money: CampaignMoney, key: Callable[[Campaign], Hashable]) -> dict:
    """The campaigns' outcomes summed per ``key`` of each campaign (their type, a day and type):
    campaigns, delivered, clicked, orders, revenue, cost, and the pooled conversion (orders ÷
    delivered) and return on spend (revenue ÷ cost)."""
    groups: dict[Hashable, dict] = {}
    for c in money.campaigns:
        t = groups.setdefault(
            key(c),
            {
                "campaigns": 0,
                "delivered": 0,
                "clicked": 0,
                "orders": 0,
                "revenue": Decimal(0),
                "cost": Decimal(0),
            },
        )
        revenue = money.revenues.get(c.id, CampaignRevenue())
        cost = money.costs.get(c.id, CampaignCost())
        t["campaigns"] += 1
        t["delivered"] += c.delivered_count
        t["clicked"] += c.clicked_count
        t["orders"] += revenue.orders
        t["revenue"] += revenue.amount
        t["cost"] += cost.amount
    pricing = money.pricing
    for t in groups.values():
        t["conversion_rate"] = _ratio(t["orders"], t["delivered"])
        t["return_on_spend"] = _ratio(t["revenue"], t["cost"]) if shop.currency == pricing.currency else None
        t["revenue"] = {"amount": f"{t['revenue']:.2f}", "currency": shop.currency}
        amount = f"{t['cost'].quantize(RATE_PLACES, ROUND_HALF_UP)}"
        t["cost"] = {"amount": amount, "currency": pricing.currency} if pricing.currency else None
    return groups


def outcome_series(shop: Shop, money: CampaignMoney, zone: ZoneInfo, weekly: bool) -> list[dict]:
    """Cost, revenue and return on spend per send day (or week, from Monday) and campaign type,
    oldest first: the campaigns grouped by when they started sending, in the shop's zone."""

    def bucket(c: Campaign) -> tuple[date, str]:
        day = (c.dispatch_started_at or c.launched_at or c.created_at).astimezone(zone).date()
        return (day - timedelta(days=day.weekday()) if weekly else day), c.type

    groups = grouped_outcomes(shop, money, bucket)
    return [{"date": day.isoformat(), "type": kind, **groups[(day, kind)]} for day, kind in sorted(groups)]
