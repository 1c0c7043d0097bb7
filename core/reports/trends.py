"""How a shop's campaigns trend: rates over time by send date and type, and the shop's medians.

Only settled campaigns count (SENT, PARTIALLY_SENT, FAILED): while a campaign still sends, its
deliveries and reads lag behind and its rates would drag every trend down. Rates over a group
of campaigns are pooled (all delivered over all sent), so a campaign of 10,000 weighs more than
one of 10; the medians are medians of per-campaign rates, so each campaign counts once. Dates
are the shop's own calendar days (``shops.timezone``).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Date, Float, and_, case, cast, func, select, tuple_
from sqlalchemy.orm import Session

from core.models import Campaign
from core.rules.campaign_states import CampaignStatus, CampaignType

TREND_STATUSES = (CampaignStatus.SENT, CampaignStatus.PARTIALLY_SENT, CampaignStatus.FAILED)
RATE_NAMES = ("delivery_rate", "read_rate", "click_through_rate", "failure_rate")
# Daily points up to this many days; weekly beyond, so a year stays readable.
DAILY_UP_TO_DAYS = 92

# When a campaign went out: dispatch start, else launch, else creation (imported campaigns).
send_time = func.coalesce(Campaign.dispatch_started_at, Campaign.launched_at, Campaign.created_at)


def _sum(column):
    # PostgreSQL sums bigints as numeric; the counts stay whole numbers.
    return cast(func.sum(column), BigInteger)


def _ratio(part, whole):
    return case((whole > 0, cast(part, Float) / whole), else_=None)


def _rate_columns(c=Campaign):
    return {
        "delivery_rate": _ratio(c.delivered_count, c.sent_count),
        "read_rate": _ratio(c.read_count, c.delivered_count),
        "click_through_rate": _ratio(c.clicked_count, c.read_count),
        "failure_rate": _ratio(c.failed_count, c.messages_count),
    }


def _settled(shop_id: int):
    return and_(Campaign.shop_id == shop_id, Campaign.status.in_([str(s) for s in TREND_STATUSES]))


def _bounds(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants that open ``start`` and close ``end`` in the shop's time zone."""
    return (
        datetime.combine(start, time.min, zone),
        datetime.combine(end + timedelta(days=1), time.min, zone),
    )


def _medians(rows) -> dict[str, dict]:
    out = {t.value: {"campaigns": 0, **dict.fromkeys(RATE_NAMES)} for t in CampaignType}
    for row in rows:
        out[row.type] = {"campaigns": row.campaigns, **{r: _round(getattr(row, r)) for r in RATE_NAMES}}
    return out


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def type_medians(session: Session, shop_id: int) -> dict[str, dict]:
    """Per campaign type, the median of each rate over the shop's settled campaigns."""
    rates = _rate_columns()
    query = (
        select(
            Campaign.type,
            func.count().label("campaigns"),
            *[func.percentile_cont(0.5).within_group(rates[r]).label(r) for r in RATE_NAMES],
        )
        .where(_settled(shop_id))
        .group_by(Campaign.type)
    )
    return _medians(session.execute(query))


def period_summary(session: Session, shop_id: int, zone: ZoneInfo, start: date, end: date) -> dict[str, dict]:
    """Per type over the days ``start``..``end``: campaigns, totals, pooled and median rates."""
    low, high = _bounds(start, end, zone)
    rates = _rate_columns()
    sums = {k: func.coalesce(_sum(getattr(Campaign, f"{k}_count")), 0) for k in _TOTALS}
    query = (
        select(
            Campaign.type,
            func.count().label("campaigns"),
            *[s.label(k) for k, s in sums.items()],
            *[func.percentile_cont(0.5).within_group(rates[r]).label(f"median_{r}") for r in RATE_NAMES],
        )
        .where(_settled(shop_id), send_time >= low, send_time < high)
        .group_by(Campaign.type)
    )
    out = {t.value: _summary_row(None) for t in CampaignType}
    for row in session.execute(query):
        out[row.type] = _summary_row(row)
    return out


_TOTALS = ("messages", "sent", "delivered", "read", "failed", "clicked")


def _summary_row(row) -> dict:
    totals = {k: (getattr(row, k) if row else 0) for k in _TOTALS}
    return {
        "campaigns": row.campaigns if row else 0,
        **totals,
        "pooled": _pooled(totals),
        "median": {r: _round(getattr(row, f"median_{r}")) if row else None for r in RATE_NAMES},
    }


def _pooled(t: dict) -> dict[str, float | None]:
    def ratio(a: int, b: int) -> float | None:
        return None if not b else round(a / b, 4)

    return {
        "delivery_rate": ratio(t["delivered"], t["sent"]),
        "read_rate": ratio(t["read"], t["delivered"]),
        "click_through_rate": ratio(t["clicked"], t["read"]),
        "failure_rate": ratio(t["failed"], t["messages"]),
    }


def rate_series(session: Session, shop_id: int, zone: ZoneInfo, start: date, end: date) -> dict:
    """Pooled delivery and read rates per send day (or week) and campaign type."""
    weekly = (end - start).days + 1 > DAILY_UP_TO_DAYS
    low, high = _bounds(start, end, zone)
    local = func.timezone(zone.key, send_time)
    day = cast(func.date_trunc("week", local) if weekly else local, Date).label("day")
    sums = {k: _sum(getattr(Campaign, f"{k}_count")).label(k) for k in ("sent", "delivered", "read")}
    query = (
        select(day, Campaign.type, func.count().label("campaigns"), *sums.values())
        .where(_settled(shop_id), send_time >= low, send_time < high)
        .group_by(day, Campaign.type)
        .order_by(day, Campaign.type)
    )
    points = [
        {
            "date": row.day.isoformat(),
            "type": row.type,
            "campaigns": row.campaigns,
            "sent": row.sent,
            "delivered": row.delivered,
            "read": row.read,
            "delivery_rate": None if not row.sent else round(row.delivered / row.sent, 4),
            "read_rate": None if not row.delivered else round(row.read / row.delivered, 4),
        }
        for row in session.execute(query)
    ]
    return {"bucket": "week" if weekly else "day", "points": points}


def campaigns_in_period(
    session: Session,
    shop_id: int,
    zone: ZoneInfo,
    start: date,
    end: date,
    *,
    limit: int,
    after: tuple[datetime, int] | None = None,
) -> list:
    """The period's settled campaigns, newest send first, with their rates (keyset-paged)."""
    low, high = _bounds(start, end, zone)
    rates = _rate_columns()
    query = select(Campaign, send_time.label("sent_on"), *[rates[r].label(r) for r in RATE_NAMES]).where(
        _settled(shop_id), send_time >= low, send_time < high
    )
    if after is not None:
        query = query.where(tuple_(send_time, Campaign.id) < after)
    query = query.order_by(send_time.desc(), Campaign.id.desc()).limit(limit)
    return list(session.execute(query))


def settled_in_period(
    session: Session, shop_id: int, zone: ZoneInfo, start: date, end: date
) -> list[Campaign]:
    """Every settled campaign sent on the days ``start``..``end`` (for the outcomes by type)."""
    low, high = _bounds(start, end, zone)
    return list(
        session.scalars(select(Campaign).where(_settled(shop_id), send_time >= low, send_time < high))
    )
