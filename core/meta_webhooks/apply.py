"""The apply path of one transaction: lock the messages, ratchet their statuses, record clicks,
park what has no message yet, and move the campaign counters, in that order.

``release_parked`` is the public entry point for the campaign engine: it calls it, in the same
transaction, right after recording the wamids Meta returned for a send.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from core.meta_webhooks import parked
from core.meta_webhooks.apply_statuses import apply_by_message_id, apply_by_wamid
from core.meta_webhooks.clicks import record_clicks
from core.meta_webhooks.counter_changes import CounterChanges
from core.meta_webhooks.halt import finish_halts, halts_for_failures
from core.meta_webhooks.locked_messages import lock_messages
from core.meta_webhooks.parse import PreferenceChange, ReplyClick, StatusEvent
from core.meta_webhooks.preferences import apply_preferences, unsubscribe_recipients
from core.meta_webhooks.ratchet import StatusRow, reduce_statuses
from core.whatsapp.callback import message_named

# Meta's "the user stopped marketing messages from this business": a consent change, too.
STOPPED_MARKETING = "131050"


@dataclass
class ApplyResult:
    applied: int = 0  # statuses that found their message
    parked: int = 0
    clicks: int = 0  # new clicks
    consents: int = 0  # customers whose marketing consent changed
    halted: int = 0  # campaigns the batch's failed statuses halted (core/rules/meta_halts.py)

    def add(self, other: ApplyResult) -> None:
        self.applied += other.applied
        self.parked += other.parked
        self.clicks += other.clicks
        self.consents += other.consents
        self.halted += other.halted


def apply_updates(
    session: Session,
    statuses: list[tuple[int, StatusEvent]],
    clicks: list[tuple[int, ReplyClick]],
    preferences: Sequence[tuple[int, PreferenceChange]] = (),
) -> ApplyResult:
    """Apply statuses, clicks and preference changes already routed to their shop:
    ``(shop_id, item)`` pairs, in the caller's transaction.

    Shop by shop, in shop id order: every statement names its one shop, so on Citus each runs
    on that shop's shard alone (docs/scaling.md), and two drains still take their locks in one
    order: a shop's messages, its customers, its campaigns, then the next shop's."""
    result = ApplyResult()
    for shop_id in sorted({shop for shop, _ in [*statuses, *clicks, *preferences]}):
        result.add(
            _apply_shop(
                session,
                shop_id,
                [(shop, item) for shop, item in statuses if shop == shop_id],
                [(shop, item) for shop, item in clicks if shop == shop_id],
                [(shop, item) for shop, item in preferences if shop == shop_id],
            )
        )
    return result


def _apply_shop(
    session: Session,
    shop_id: int,
    statuses: list[tuple[int, StatusEvent]],
    clicks: list[tuple[int, ReplyClick]],
    preferences: list[tuple[int, PreferenceChange]],
) -> ApplyResult:
    """One shop's part of the batch.

    Rows are locked messages first, then customers, then campaigns. Messages are locked in key
    order within each statement; statuses that need our message id and clicks lock theirs in a
    second statement, so two drains crossing on those rare paths can deadlock: PostgreSQL then
    stops one, whose batch is retried (drain.py)."""
    rows = reduce_statuses(statuses)
    changes = CounterChanges()
    by_wamid = apply_by_wamid(session, shop_id, rows, changes)
    binding = _named_by_callback(by_wamid.unmatched)
    wanted = [(row.wamid, row.message_id) for row in binding]
    wanted += [(click.context_wamid, None) for _, click in clicks]
    locked = lock_messages(session, shop_id, wanted)
    by_id = apply_by_message_id(session, shop_id, binding, locked, changes)
    unmatched = [row for row in by_wamid.unmatched if row.message_id is None] + by_id.unmatched
    result = ApplyResult(
        applied=by_wamid.events + by_id.events,
        clicks=record_clicks(session, shop_id, clicks, locked, changes),
        parked=parked.park(session, unmatched),
    )
    result.consents = unsubscribe_recipients(session, shop_id, _stops(rows, unmatched))
    result.consents += apply_preferences(session, shop_id, preferences)
    # Campaigns the batch's failures trip halt here, set-based: their unsent messages first,
    # then the counters, then the halts on the campaign rows (the lock order of dispatch).
    halts = halts_for_failures(
        session, shop_id, _failures(rows, unmatched), changes.failures, changes.variants
    )
    changes.apply(session, shop_id)
    result.halted = finish_halts(session, halts)
    return result


def _failures(rows: list[StatusRow], unmatched: list[StatusRow]) -> list[tuple[str, str]]:
    """(wamid, code) of every applied failed status with a code."""
    parked_rows = {id(row) for row in unmatched}
    return [
        (row.wamid, e.error.code)
        for row in rows
        if id(row) not in parked_rows
        for e in row.events
        if e.error is not None and e.error.code
    ]


def _named_by_callback(rows: list[StatusRow]) -> list[StatusRow]:
    """The rows whose callback data names a message of ours, signed for their shop: the only
    ones that may bind by it (locked_messages.py checks the message itself). Read here, for the
    few rows no wamid matched, so the common path pays no mac."""
    named = []
    for row in rows:
        row.message_id = message_named(row.shop_id, row.callback)
        if row.message_id is not None:
            named.append(row)
    return named


def _stops(rows: list[StatusRow], unmatched: list[StatusRow]) -> dict[str, datetime]:
    """Applied rows' wamids with a 131050 failure ("the user stopped marketing messages"), to
    its time."""
    parked_rows = {id(row) for row in unmatched}
    stops = {}
    for row in rows:
        if id(row) in parked_rows:
            continue
        times = [e.at for e in row.events if e.error is not None and e.error.code == STOPPED_MARKETING]
        if times:
            stops[row.wamid] = min(times)
    return stops


def release_parked(session: Session, shop_id: int, wamids: list[str]) -> int:
    """Apply (with the same ratchet and counter updates) and delete any parked statuses for
    ``wamids`` of ``shop_id``, in the caller's transaction. Return how many were applied."""
    if not wamids:
        return 0
    # Lock the messages before taking their parked rows: every writer takes messages first.
    lock_messages(session, shop_id, [(wamid, None) for wamid in wamids])
    events = parked.take(session, shop_id, wamids)
    if not events:
        return 0
    return apply_updates(session, [(shop_id, event) for event in events], []).applied


def release_recorded(session: Session) -> int:
    """Release parked statuses whose wamid was recorded after they were parked: a park that
    committed just after the recording transaction looked for it. Run by the inbox sweeper."""
    return sum(
        release_parked(session, shop_id, wamids)
        for shop_id, wamids in parked.recorded_wamids(session).items()
    )
