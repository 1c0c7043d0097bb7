"""Our cost beside what Meta billed, day by day, as the campaign and trends pages and their API
show it (core/reconcile/drift.py compares; this shapes it).

Meta bills the WhatsApp Business Account, not a campaign: a campaign page shows every billed
message of the shop on the UTC days the campaign was delivered, beside Meta's bill for those
days. Each day is ``read`` (compared), ``pending`` (read, Meta has reported nothing yet) or
``not_read`` (the daily read has not reached it).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.models import Campaign, MetaBillingRead
from core.reconcile.drift import KeyFigures, Reconciliation, reconcile

PLACES = Decimal("0.0001")
MAX_CAMPAIGN_DAYS = 31  # a campaign's deliveries: from its first day, at most this many days


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else f"{amount.quantize(PLACES, ROUND_HALF_UP)}"


def _drift(ours: Decimal, meta: Decimal | None) -> float | None:
    """(ours - Meta's) ÷ Meta's; None when there is nothing to divide by."""
    if meta is None or meta == 0:
        return None
    return round(float((ours - meta) / meta), 4)


def _day_status(result: Reconciliation, day: date) -> str:
    if day not in result.days_read:
        return "not_read"
    return "pending" if day in result.pending else "read"


def _key_json(k: KeyFigures, drifting: bool) -> dict:
    return {
        "country": k.country,
        "category": k.category,
        "tiers": sorted(k.tiers),
        "ours": {"messages": k.ours_volume, "cost": _money(k.ours_cost)},
        "meta": {"messages": k.meta_volume, "cost": _money(k.meta_cost), "free_messages": k.meta_free_volume},
        "drifts": drifting,
    }


def billing_comparison(session: Session, shop_id: int, first_day: date, last_day: date) -> dict:
    """Per UTC day of the range: our billed messages and cost, Meta's, and the drift."""
    result = reconcile(session, shop_id, first_day, last_day)
    drifting = {(k.day, k.country, k.category) for k in result.drifting()}
    by_day: dict[date, list[KeyFigures]] = defaultdict(list)
    for k in result.keys:
        by_day[k.day].append(k)
    return {
        "from": first_day.isoformat(),
        "to": last_day.isoformat(),
        "currency": result.our_currency,
        "meta_currency": result.meta_currency,
        "days": [_day_json(day, by_day[day], _day_status(result, day), drifting) for day in sorted(by_day)],
        "drifting": len(drifting),
    }


def _day_json(day: date, keys: list[KeyFigures], status: str, drifting: set[tuple]) -> dict:
    ours_cost = sum((k.ours_cost for k in keys), Decimal(0))
    meta_costs = [k.meta_cost for k in keys]
    meta_cost = None if any(c is None for c in meta_costs) else sum(meta_costs, Decimal(0))
    read = status != "not_read"
    flags = [(day, k.country, k.category) in drifting for k in keys]
    return {
        "day": day.isoformat(),
        "status": status,
        "ours": {"messages": sum(k.ours_volume for k in keys), "cost": _money(ours_cost)},
        "meta": {"messages": sum(k.meta_volume for k in keys), "cost": _money(meta_cost)} if read else None,
        "drift": {"cost": _drift(ours_cost, meta_cost) if read else None},
        "drifts": any(flags),
        "keys": [_key_json(k, flag) for k, flag in zip(keys, flags, strict=True)],
    }


def campaign_days(campaign: Campaign, today: date | None = None) -> tuple[date, date] | None:
    """The UTC days a campaign's messages were delivered on: from its first send to its
    completion (or today), at most ``MAX_CAMPAIGN_DAYS``; None before it was sent."""
    start = campaign.dispatch_started_at or campaign.launched_at
    if start is None:
        return None
    today = today or datetime.now(UTC).date()
    first = start.astimezone(UTC).date()
    end = campaign.completed_at.astimezone(UTC).date() if campaign.completed_at else today
    return first, max(first, min(end, today, first + timedelta(days=MAX_CAMPAIGN_DAYS - 1)))


def last_read(session: Session, shop_id: int) -> str:
    """When Meta's bill was last read for the shop (a cache key: a new read shows at once)."""
    at = session.scalar(select(func.max(MetaBillingRead.read_at)).where(MetaBillingRead.shop_id == shop_id))
    return at.isoformat() if at else "never"
