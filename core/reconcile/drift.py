"""Our cost beside Meta's, per UTC day, recipient country and pricing category, and the drift
alert.

What is compared: our billed messages and their cost (core/reconcile/ours.py) with Meta's
``REGULAR`` (billed) volume and cost for the same key, summed over Meta's tiers. Messages Meta
prices free are shown, not compared: we bill none of them either. A key drifts when the volume
or the cost differs by more than ``DRIFT_LIMIT`` of Meta's figure (any difference at all when
Meta's is zero); the cost only when Meta gave one and in the currency of our rate card.

Days: only days read from Meta are compared. A day Meta reported nothing for, while we billed
messages, is ``pending`` (not drift) until it has been read at least ``SETTLE`` after its end:
Meta's analytics trail its deliveries. Meta billing more messages than we count is drift too,
and the alert says what it most likely is: another app, or the WhatsApp Business app, sending
from the same number (or deliveries this app has not heard of yet); it is not hidden.

One shop alert (``META_BILLING_DRIFT``) names every key that drifts, with both figures and
Meta's tiers; it is rewritten on each check while it is open, and resolved by the first check
that finds every compared key within the limit.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import update
from sqlalchemy.orm import Session

from core.models import Shop, ShopAlert
from core.outcomes.pricing import shop_pricing
from core.reconcile.meta_rows import billed_rows, read_days
from core.reconcile.ours import billed_by_day
from core.rules.alert_codes import AlertCode

DRIFT_LIMIT = Decimal("0.02")
SETTLE = timedelta(hours=24)
CENT = Decimal("0.01")
ALERT_CODE = AlertCode.META_BILLING_DRIFT
MAX_LINES = 12  # keys named in the alert; the page lists them all


@dataclass
class KeyFigures:
    """One day, country and category: our figures and Meta's."""

    day: date
    country: str
    category: str
    ours_volume: int = 0
    ours_cost: Decimal = Decimal(0)
    meta_volume: int = 0
    meta_cost: Decimal | None = Decimal(0)  # None: Meta gave no cost for some of its rows
    meta_free_volume: int = 0  # messages Meta priced free: shown, not compared
    tiers: set[str] = field(default_factory=set)

    def volume_drifts(self) -> bool:
        return _beyond(Decimal(self.ours_volume), Decimal(self.meta_volume))

    def cost_drifts(self, comparable: bool) -> bool:
        return comparable and self.meta_cost is not None and _beyond(self.ours_cost, self.meta_cost)


def _beyond(ours: Decimal, meta: Decimal) -> bool:
    if meta == 0:
        return ours != 0
    return abs(ours - meta) > DRIFT_LIMIT * abs(meta)


@dataclass
class Reconciliation:
    first_day: date
    last_day: date
    our_currency: str | None  # None: Meta bills in a currency no card of ours prices
    meta_currency: str | None
    keys: list[KeyFigures]
    days_read: set[date]
    pending: set[date]  # read, Meta reported nothing yet while we billed

    @property
    def comparable_cost(self) -> bool:
        return self.meta_currency is None or self.meta_currency == self.our_currency

    def drifting(self) -> list[KeyFigures]:
        return [
            k
            for k in self.keys
            if k.day in self.days_read
            and k.day not in self.pending
            and (k.volume_drifts() or k.cost_drifts(self.comparable_cost))
        ]


def reconcile(session: Session, shop_id: int, first_day: date, last_day: date) -> Reconciliation:
    """Our figures and Meta's for every key of the range (Meta's from the shop's current WABA)."""
    shop = session.get(Shop, shop_id)
    waba_id = (shop.meta_waba_id if shop else None) or ""
    reads = read_days(session, shop_id, waba_id, first_day, last_day)
    keys = {
        key: KeyFigures(*key, ours_volume=volume, ours_cost=cost)
        for key, (volume, cost) in billed_by_day(session, shop_id, first_day, last_day).items()
    }
    meta_days: dict[date, int] = defaultdict(int)
    for row in billed_rows(session, shop_id, waba_id, first_day, last_day):
        key = (row.day, row.country, row.pricing_category)
        _add_meta(keys.setdefault(key, KeyFigures(*key)), row)
        meta_days[row.day] += row.volume
    currencies = sorted({r.currency for r in reads.values() if r.currency})
    return Reconciliation(
        first_day,
        last_day,
        shop_pricing(session, shop).currency if shop else None,
        currencies[0] if currencies else None,
        sorted(keys.values(), key=lambda k: (k.day, k.country, k.category)),
        set(reads),
        _pending(keys.values(), reads, meta_days),
    )


def _pending(keys, reads: dict, meta_days: dict[date, int]) -> set[date]:
    """Days read while Meta had reported nothing for them, less than ``SETTLE`` after they ended."""
    return {
        k.day
        for k in keys
        if k.day in reads and not meta_days[k.day] and reads[k.day].read_at < _end_of(k.day) + SETTLE
    }


def _add_meta(figures: KeyFigures, row) -> None:
    if row.pricing_type != "regular":
        figures.meta_free_volume += row.volume
        return
    figures.meta_volume += row.volume
    figures.tiers.add(row.tier or "none")
    if row.cost is None or figures.meta_cost is None:
        figures.meta_cost = None
    else:
        figures.meta_cost += row.cost


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time(), UTC) + timedelta(days=1)


def check_drift(session: Session, shop_id: int, first_day: date, last_day: date) -> list[KeyFigures]:
    """Compare the range; open (or rewrite) the drift alert naming what differs, or resolve it
    when nothing does. Answer the keys that drift."""
    result = reconcile(session, shop_id, first_day, last_day)
    drifting = result.drifting()
    if drifting:
        _raise_alert(session, shop_id, alert_details(result, drifting))
    else:
        _resolve_alert(session, shop_id)
    return drifting


def alert_details(result: Reconciliation, drifting: list[KeyFigures]) -> str:
    """What differs, one line per key: day, country, category, Meta's tiers, both figures."""
    lines = [_line(k, result) for k in drifting[:MAX_LINES]]
    if len(drifting) > MAX_LINES:
        lines.append(f"... and {len(drifting) - MAX_LINES} more (see the Trends page).")
    extra = sum(max(k.meta_volume - k.ours_volume, 0) for k in drifting)
    if extra:
        lines.append(
            f"Meta billed {extra} message{'' if extra == 1 else 's'} more than this app sent and "
            "saw delivered: another app or the WhatsApp Business app may be sending from the same "
            "number (or deliveries have not reached this app yet)."
        )
    if not result.comparable_cost:
        lines.append(
            f"Meta bills this account in {result.meta_currency}, our rates are in {result.our_currency}: "
            "only message counts are compared."
        )
    return "\n".join(lines)


def _line(k: KeyFigures, result: Reconciliation) -> str:
    tiers = ", ".join(sorted(k.tiers)) or "none"
    meta_cost = (
        "no cost given"
        if k.meta_cost is None
        else f"{k.meta_cost.quantize(CENT)} {result.meta_currency or ''}".strip()
    )
    return (
        f"{k.day.isoformat()} {k.country or 'unknown country'} {k.category or 'unknown category'} "
        f"(Meta's tier {tiers}): Meta {k.meta_volume} messages, {meta_cost}; "
        f"ours {k.ours_volume} messages, {k.ours_cost.quantize(CENT)} {result.our_currency}"
    )


def _raise_alert(session: Session, shop_id: int, details: str) -> None:
    title = "Meta billed differently from the cost shown here"
    changed = session.execute(
        update(ShopAlert)
        .where(ShopAlert.shop_id == shop_id, ShopAlert.code == ALERT_CODE, ShopAlert.resolved_at.is_(None))
        .values(title=title, details=details)
    ).rowcount
    if not changed:
        session.add(ShopAlert(shop_id=shop_id, code=ALERT_CODE, title=title, details=details))


def _resolve_alert(session: Session, shop_id: int) -> None:
    session.execute(
        update(ShopAlert)
        .where(ShopAlert.shop_id == shop_id, ShopAlert.code == ALERT_CODE, ShopAlert.resolved_at.is_(None))
        .values(resolved_at=datetime.now(UTC))
    )
