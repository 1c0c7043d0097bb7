"""Meta's billed rows as the app keeps them: a read of a range of days replaces those days.

Meta revises recent days (late deliveries, corrections), so re-reading a day must leave exactly
what Meta says now: the days' rows and read marks are deleted and written again in the caller's
transaction. Points Meta splits finer than our key (it should not) are summed into one row.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.models import MetaBilledRow, MetaBillingRead
from core.whatsapp.pricing_analytics import MetaBilling


def store_billing(
    session: Session,
    shop_id: int,
    waba_id: str,
    first_day: date,
    last_day: date,
    billing: MetaBilling,
    now: datetime,
) -> int:
    """Replace the stored days ``first_day``..``last_day`` of the account; answer the rows kept."""
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]
    for model in (MetaBilledRow, MetaBillingRead):
        session.execute(
            delete(model).where(model.shop_id == shop_id, model.waba_id == waba_id, model.day.in_(days))
        )
    session.execute(
        insert(MetaBillingRead),
        [
            {"shop_id": shop_id, "waba_id": waba_id, "day": d, "currency": billing.currency, "read_at": now}
            for d in days
        ],
    )
    rows = _summed(billing)
    if rows:
        session.execute(
            insert(MetaBilledRow), [{"shop_id": shop_id, "waba_id": waba_id, **row} for row in rows]
        )
    return len(rows)


def _summed(billing: MetaBilling) -> list[dict]:
    sums: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0), True])
    for p in billing.points:
        tally = sums[(p.day, p.country, p.pricing_category, p.pricing_type, p.tier)]
        tally[0] += p.volume
        if p.cost is None:
            tally[2] = False
        else:
            tally[1] += p.cost
    keys = ("day", "country", "pricing_category", "pricing_type", "tier")
    return [
        {**dict(zip(keys, key, strict=True)), "volume": volume, "cost": cost if priced else None}
        for key, (volume, cost, priced) in sums.items()
    ]


def read_days(
    session: Session, shop_id: int, waba_id: str, first_day: date, last_day: date
) -> dict[date, MetaBillingRead]:
    """The days of the range read from Meta, with when and in which currency."""
    reads = session.scalars(
        select(MetaBillingRead).where(
            MetaBillingRead.shop_id == shop_id,
            MetaBillingRead.waba_id == waba_id,
            MetaBillingRead.day.between(first_day, last_day),
        )
    )
    return {read.day: read for read in reads}


def billed_rows(
    session: Session, shop_id: int, waba_id: str, first_day: date, last_day: date
) -> list[MetaBilledRow]:
    return list(
        session.scalars(
            select(MetaBilledRow)
            .where(
                MetaBilledRow.shop_id == shop_id,
                MetaBilledRow.waba_id == waba_id,
                MetaBilledRow.day.between(first_day, last_day),
            )
            .order_by(MetaBilledRow.day, MetaBilledRow.country, MetaBilledRow.pricing_category)
        )
    )
