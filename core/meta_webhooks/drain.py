"""One drain batch: claim inbox events, parse them, route them to shops, apply everything in
the caller's transaction and mark the events processed in that same transaction.

Because the events are marked in the transaction that applies them, a worker killed mid-batch
loses nothing and counts nothing twice: its transaction rolls back and the events stay
unprocessed for the next drain. If applying a batch fails, it is split in halves (each in a
savepoint), and a failing half again, down to the body at fault; that body's items are split the
same way, so its valid statuses still apply and only what the database refuses is set aside.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session

from core.inbox import store as inbox
from core.meta_webhooks.account_changes import apply_account_changes
from core.meta_webhooks.alerts import store_alerts
from core.meta_webhooks.apply import apply_updates
from core.meta_webhooks.parse import (
    AccountChange,
    MetaError,
    ParsedBody,
    PreferenceChange,
    ReplyClick,
    StatusEvent,
    parse_body,
)
from core.meta_webhooks.routing import shops_by_phone_number, shops_by_waba
from core.rules.meta_halts import Scope, scope
from core.whatsapp.state import note_webhooks_received

log = logging.getLogger(__name__)

SOURCE = "meta"
BATCH_EVENTS = 2000
BATCH_BYTES = 16 * 1024 * 1024
MAX_NOTE = 2000


@dataclass
class DrainReport:
    events: int = 0
    statuses: int = 0  # applied to a message
    parked: int = 0
    clicks: int = 0
    preferences: int = 0
    alerts: int = 0
    account_changes: int = 0  # account-level changes applied (template status, limits, ...)
    failed_ids: list[int] = field(default_factory=list)  # events that could not be applied
    outcomes: Counter = field(default_factory=Counter)
    tries: int = 0  # savepoints tried after a failed batch (its halves, and halves of those)

    def add(self, other: DrainReport) -> None:
        for name in (
            "events",
            "statuses",
            "parked",
            "clicks",
            "preferences",
            "alerts",
            "account_changes",
            "tries",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.failed_ids += other.failed_ids
        self.outcomes.update(other.outcomes)


@dataclass
class _Routed:
    statuses: list[tuple[int, StatusEvent]] = field(default_factory=list)
    clicks: list[tuple[int, ReplyClick]] = field(default_factory=list)
    preferences: list[tuple[int, PreferenceChange]] = field(default_factory=list)
    errors: list[tuple[int, MetaError]] = field(default_factory=list)
    account: list[tuple[int, AccountChange]] = field(default_factory=list)

    KINDS = ("statuses", "clicks", "preferences", "errors", "account")

    def items(self) -> list[tuple[str, int, object]]:
        """Every routed item as (kind, shop id, item), to be applied in parts."""
        return [(kind, shop_id, item) for kind in self.KINDS for shop_id, item in getattr(self, kind)]

    @classmethod
    def of(cls, items: list[tuple[str, int, object]]) -> _Routed:
        routed = cls()
        for kind, shop_id, item in items:
            getattr(routed, kind).append((shop_id, item))
        return routed

    def add(self, parsed: ParsedBody, shops: _Shops) -> str:
        """Take what ``parsed`` holds for known shops; return the event's outcome."""
        if parsed.outcome:
            return parsed.outcome
        used = False
        for change in parsed.account:
            for shop_id in shops.by_waba.get(change.waba_id, ()):
                used = True
                self.account.append((shop_id, change))
        for update in parsed.updates:
            shop_id = shops.by_number.get(update.phone_number_id)
            if shop_id is None or not update.has_items():
                continue  # a number we do not serve (Meta's dashboard samples, another app)
            used = True
            self.statuses += [(shop_id, item) for item in update.statuses]
            self.clicks += [(shop_id, item) for item in update.clicks]
            self.preferences += [(shop_id, item) for item in update.preferences]
            self.errors += [(shop_id, item) for item in update.errors]
        if used:
            return "applied"
        return "unknown_phone_number" if any(u.has_items() for u in parsed.updates) else "unknown_account"


@dataclass
class _Shops:
    """Where a batch's bodies route: shops by business phone number id, and by WABA id."""

    by_number: dict[str, int]
    by_waba: dict[str, list[int]]

    @classmethod
    def of(cls, session: Session, bodies: Collection[ParsedBody]) -> _Shops:
        numbers = {u.phone_number_id for p in bodies for u in p.updates if u.has_items()}
        wabas = {change.waba_id for p in bodies for change in p.account}
        return cls(shops_by_phone_number(session, numbers), shops_by_waba(session, wabas))


# Failed statuses with an account-wide code, as (shop id, wamid, code): what halts at once.
Trips = list[tuple[int, str, str]]


def drain_batch(
    session: Session,
    *,
    limit: int | None = None,
    max_bytes: int | None = None,
    skip: Collection[int] = (),
    halt_first: Callable[[Trips], None] | None = None,
) -> DrainReport | None:
    """Drain one batch in the caller's transaction; None when no event was waiting. Events in
    ``skip`` (failed earlier in the same drain) wait for a later drain: no tight retry loop.

    ``halt_first`` gets the batch's failed statuses whose code halts a campaign at once (an
    account-wide code: core/rules/meta_halts.py) before the batch is applied, so the caller can
    halt their campaigns in a short transaction of its own: a batch of a thousand bodies takes a
    while to apply, and every moment of it a halted campaign would go on sending."""
    limit, max_bytes = limit or BATCH_EVENTS, max_bytes or BATCH_BYTES
    events = inbox.claim(session, SOURCE, limit=limit, max_bytes=max_bytes, skip=skip)
    if not events:
        return None
    parsed = {event.id: parse_body(event.body, event.received_at) for event in events}
    shops = _Shops.of(session, parsed.values())
    if halt_first is not None and (trips := _trips(parsed.values(), shops)):
        halt_first(trips)
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                return _apply_events(session, events, parsed, shops)
        except OperationalError as error:
            # A deadlock or serialization failure is worth one more try; anything else at this
            # level is the connection or the server, and the whole transaction must go.
            if attempt == 2 or not _is_rollback_class(error):
                raise
        except Exception:
            log.exception("a batch of %d inbox events failed; splitting it in halves", len(events))
            break
    report, refused = _in_halves(session, events, lambda half: _apply_events(session, half))
    for event, failure in refused:
        report.add(_apply_items_of(session, event, failure))
    report.tries += 1  # the whole batch's own try
    return report


def _in_halves(
    session: Session, parts: list, apply: Callable[[list], DrainReport]
) -> tuple[DrainReport, list]:
    """Apply ``parts`` (events, or the items of one body) after they failed together: each half
    in its own savepoint, a failing half split again, down to the one part at fault. One bad
    part among n costs about 2·log2(n) tries, where retrying each alone cost n, each waiting on
    the row locks another drain lane may hold. Return what applied, and each part that failed
    on its own with its error."""
    report, refused = DrainReport(), []
    middle = len(parts) // 2
    for half in (parts[:middle], parts[middle:]):
        if not half:
            continue
        report.tries += 1
        try:
            with session.begin_nested():
                report.add(apply(half))
                continue
        except OperationalError as error:
            if not _is_rollback_class(error):
                raise
            failure: Exception = error
        except Exception as error:
            failure = error
        if len(half) == 1:
            refused.append((half[0], failure))
            continue
        more, more_refused = _in_halves(session, half, apply)
        report.add(more)
        refused += more_refused
    return report, refused


def _apply_items_of(session: Session, event: inbox.InboxEvent, failure: Exception) -> DrainReport:
    """A body that fails on its own: apply its items by halves too, so every valid status,
    click or preference in it counts. If none applies, the body waits for a later drain (and,
    at its last attempt, is set aside); otherwise it is ``partly_applied``, the refusal noted."""
    parsed = parse_body(event.body, event.received_at)
    routed = _Routed()
    routed.add(parsed, _Shops.of(session, [parsed]))
    items = routed.items()
    report, refused = DrainReport(), []
    if len(items) > 1:
        report, refused = _in_halves(session, items, lambda half: _apply_routed(session, _Routed.of(half)))
    applied = len(items) - len(refused) if len(items) > 1 else 0
    if not applied:
        _set_aside_for_now(session, report, event, refused[0][1] if refused else failure)
        return report
    note = f"{len(items) - applied} of {len(items)} items refused: {_describe(refused[0][1])}"
    inbox.set_outcomes(session, {event.id: ("partly_applied", note[:MAX_NOTE])})
    report.events += 1
    report.outcomes["partly_applied"] += 1
    return report


def _set_aside_for_now(
    session: Session, report: DrainReport, event: inbox.InboxEvent, error: Exception
) -> None:
    """Leave the event for a later drain (or, at its last attempt, aside for good)."""
    log.warning("inbox event %s could not be applied: %s", event.id, type(error).__name__)
    inbox.record_failure(session, event.id, _describe(error))
    report.events += 1
    report.failed_ids.append(event.id)


def _describe(error: Exception) -> str:
    """The error as the database (or Python) put it, without the statement and its values."""
    cause = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    return f"{type(cause).__name__}: {str(cause).splitlines()[0] if str(cause) else ''}"


def _is_rollback_class(error: DBAPIError) -> bool:
    """SQLSTATE class 40: deadlock detected, serialization failure."""
    return str(getattr(error.orig, "sqlstate", "") or "").startswith("40")


def _trips(bodies: Collection[ParsedBody], shops: _Shops) -> Trips:
    found = []
    for body in bodies:
        for update in body.updates:
            shop_id = shops.by_number.get(update.phone_number_id)
            if shop_id is None:
                continue
            for status in update.statuses:
                code = status.error.code if status.error else None
                if code and scope(code) == Scope.ACCOUNT:
                    found.append((shop_id, status.wamid, code))
    return found


def _apply_events(
    session: Session,
    events: list[inbox.InboxEvent],
    parsed: dict[int, ParsedBody] | None = None,
    shops: _Shops | None = None,
) -> DrainReport:
    """Apply ``events`` (parsed and routed already, or not: a half of a failed batch)."""
    if parsed is None or len(parsed) != len(events):
        parsed = {event.id: parse_body(event.body, event.received_at) for event in events}
        shops = None
    shops = shops or _Shops.of(session, parsed.values())
    note_webhooks_received(session, shops.by_number.values(), max(event.received_at for event in events))
    routed, outcomes = _Routed(), {}
    for event in events:
        body = parsed[event.id]
        note = "; ".join(body.problems)[:MAX_NOTE] if body.problems else None
        outcomes[event.id] = (routed.add(body, shops), note)
    report = _apply_routed(session, routed)
    report.events = len(events)
    report.outcomes = Counter(outcome for outcome, _ in outcomes.values())
    inbox.set_outcomes(session, outcomes)
    return report


def _apply_routed(session: Session, routed: _Routed) -> DrainReport:
    result = apply_updates(session, routed.statuses, routed.clicks, routed.preferences)
    return DrainReport(
        statuses=result.applied,
        parked=result.parked,
        clicks=result.clicks,
        preferences=result.consents,
        alerts=store_alerts(session, routed.errors),
        account_changes=apply_account_changes(session, routed.account),
    )
