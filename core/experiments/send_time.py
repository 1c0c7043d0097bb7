"""Send time per customer: each customer gets the campaign at the hour they usually read.

A customer's hour is read from their history: the hours (in the shop's time zone) at which they
read our messages over the last HISTORY_DAYS, the most frequent hour of the week and hour of the
day. Within the window the merchant picks (for example the next 24 hours from the launch), a
customer is sent at the first time that is their hour of the week; else their hour of the day;
a customer without history gets the shop's hour of the day (the most frequent over all its
customers' reads); and when that hour does not fall in a window shorter than a day, the end of
the window nearest to it. A shop with no read at all sends everyone at once.

The plan is a number of whole hours after the launch hour (``delta``), worked out in SQL for a
million messages at once: at materialise it becomes each message's ``retry_at`` (the dispatch
lane sends a message when it is due, as it does for the waves of core/campaigns/messaging_limit.py);
the composer's preview counts the audience per hour with the same expression. Hours are added
as elapsed time, so across a daylight-saving change a send can land an hour off its wall-clock hour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import BigInteger, Integer, Select, func, literal_column, select, text
from sqlalchemy.orm import Session

HISTORY_DAYS = 180
MIN_WINDOW_HOURS, MAX_WINDOW_HOURS = 1, 168

_LOCAL = "(m.read_at AT TIME ZONE :tz)"
_READS = """
      FROM messages m
     WHERE m.shop_id = :shop_id AND m.read_at IS NOT NULL AND m.customer_id IS NOT NULL
       AND m.read_at > :since"""
_HOUR_OF_WEEK = f"((extract(isodow FROM {_LOCAL})::int - 1) * 24 + extract(hour FROM {_LOCAL})::int)"
_HOUR_OF_DAY = f"extract(hour FROM {_LOCAL})::int"

# Each customer's most frequent hour of the week and of the day (ties: the earlier hour).
BEST_HOURS_SQL = f"""
    SELECT m.customer_id,
           mode() WITHIN GROUP (ORDER BY {_HOUR_OF_WEEK}) AS how,
           mode() WITHIN GROUP (ORDER BY {_HOUR_OF_DAY}) AS hod
    {_READS}
     GROUP BY m.customer_id
"""
_SHOP_HOUR = text(f"SELECT mode() WITHIN GROUP (ORDER BY {_HOUR_OF_DAY}) {_READS}")


def zone_name(name: str | None) -> str:
    """The shop's IANA zone when it is one, else UTC (a shop not yet told its zone by Shopify)."""
    try:
        ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return name or "UTC"


def history_since() -> datetime:
    """Reads older than this say little about when a customer reads now."""
    return datetime.now(UTC) - timedelta(days=HISTORY_DAYS)


@dataclass(frozen=True)
class Window:
    """The launch hour in the shop's zone and the window's length: what every delta is from."""

    start: datetime  # the launch time truncated to its hour, aware (UTC)
    hour_of_week: int  # of ``start`` in the shop's zone, Monday 00:00 = 0
    hour_of_day: int
    hours: int
    shop_hour: int | None  # the shop's most frequent read hour, None without any read

    def at(self, delta: int) -> datetime:
        return self.start + timedelta(hours=delta)


def window(session: Session, shop_id: int, zone: str, hours: int, now: datetime | None = None) -> Window:
    """The window starting at ``now``'s hour, with the shop's own best hour."""
    local = (now or datetime.now(UTC)).astimezone(ZoneInfo(zone)).replace(minute=0, second=0, microsecond=0)
    params = {"shop_id": shop_id, "tz": zone, "since": history_since()}
    shop_hour = session.execute(_SHOP_HOUR, params).scalar()
    return Window(local.astimezone(UTC), local.weekday() * 24 + local.hour, local.hour, hours, shop_hour)


def delta_sql(how: str, hod: str, w: Window) -> str:
    """The hours after the window's start a customer whose best hours are the SQL expressions
    ``how`` and ``hod`` (NULL without history) is sent at."""
    week = f"mod({how} - {w.hour_of_week} + 168, 168)"
    target = f"COALESCE({hod}, {w.shop_hour if w.shop_hour is not None else 'NULL'})"
    day = f"mod({target} - {w.hour_of_day} + 24, 24)"
    # Outside a short window: the start when the hour has just passed, else the window's end.
    nearest = f"CASE WHEN 24 - {day} <= {day} - ({w.hours} - 1) THEN 0 ELSE {w.hours - 1} END"
    return f"""(CASE WHEN {how} IS NOT NULL AND {week} < {w.hours} THEN {week}
                WHEN {target} IS NULL THEN 0
                WHEN {day} < {w.hours} THEN {day}
                ELSE {nearest} END)"""


def best_hours(zone: str, shop_id: int):
    """BEST_HOURS_SQL as a subquery named ``best`` (customer_id, how, hod), bound to the shop."""
    columns = {"customer_id": BigInteger, "how": Integer, "hod": Integer}
    bound = text(BEST_HOURS_SQL).bindparams(shop_id=shop_id, tz=zone, since=history_since())
    return bound.columns(**columns).subquery("best")


def preview(session: Session, recipients: Select, shop_id: int, zone: str, w: Window) -> list[dict]:
    """How many of ``recipients`` (a query of customers) go at each hour of the window."""
    audience = recipients.subquery("audience")
    best = best_hours(zone, shop_id)
    delta = literal_column(delta_sql("best.how", "best.hod", w))
    query = (
        select(delta.label("delta"), func.count())
        .select_from(audience.outerjoin(best, best.c.customer_id == audience.c.id))
        .group_by(literal_column("1"))
        .order_by(literal_column("1"))
    )
    return [{"at": w.at(d).isoformat(), "recipients": n} for d, n in session.execute(query)]


def plan_sql(w: Window, variant_ids: list[int] | None) -> str:
    """The UPDATE giving each queued message of a campaign its send time (:shop_id,
    :campaign_id, :tz, :since, :start); ``variant_ids`` limits it to those variants' messages.
    The time is worked out in the CTE, not in the SET: Citus refuses a STABLE function
    (timestamptz + interval) over column references in an UPDATE (docs/scaling.md)."""
    delta = delta_sql("b.how", "b.hod", w)
    only = f"AND m2.variant_id IN ({', '.join(str(int(v)) for v in variant_ids)})" if variant_ids else ""
    return f"""
        WITH best AS ({BEST_HOURS_SQL}),
             planned AS (
                SELECT m2.id,
                       CAST(:start AS timestamptz) + make_interval(hours => {delta}) AS at
                  FROM messages m2
                  LEFT JOIN best b ON b.customer_id = m2.customer_id
                 WHERE m2.shop_id = :shop_id AND m2.campaign_id = :campaign_id AND m2.status = 'queued' {only}
             )
        UPDATE messages m
           SET retry_at = GREATEST(m.retry_at, p.at)
          FROM planned p
         WHERE m.shop_id = :shop_id AND m.id = p.id
    """


def per_customer_variants(mode: str, variants: list[dict]) -> list[int] | None:
    """Which of the campaign's messages are sent at their customer's hour: None for all of them,
    else the ids of the variants that are (an empty list: none)."""
    if not variants:
        return None if mode == "per_customer" else []
    chosen = [v["id"] for v in variants if (v.get("send_time") or mode) == "per_customer"]
    return None if len(chosen) == len(variants) else chosen


def plan_send_times(
    session: Session, shop_id: int, campaign_id: int, zone: str | None, hours: int, variants: list[int] | None
) -> None:
    """Give the campaign's queued messages (of ``variants``; None: all) their customers' hours."""
    zone = zone_name(zone)
    w = window(session, shop_id, zone, hours)
    params = {"shop_id": shop_id, "campaign_id": campaign_id, "tz": zone, "since": history_since()}
    session.execute(text(plan_sql(w, variants)), {**params, "start": w.start})
