"""The apply path of one transaction: lock the messages, ratchet their statuses, record clicks,
park what has no message yet, and move the campaign counters, in that order.

``release_parked`` is the public entry point for the campaign engine: it calls it, in the same
transaction, right after recording the wamids Meta returned for a send.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from core.meta_webhooks import parked
from core.meta_webhooks.clicks import record_clicks
from core.meta_webhooks.parse import PreferenceChange, ReplyClick, StatusEvent
from core.meta_webhooks.preferences import apply_preferences, unsubscribe_recipients
from core.meta_webhooks.ratchet import apply_status_rows, reduce_statuses
from core.meta_webhooks.tally import CounterChanges
from core.meta_webhooks.targets import lock_messages


@dataclass
class ApplyResult:
    applied: int = 0  # statuses that found their message
    parked: int = 0
    clicks: int = 0  # new clicks
    consents: int = 0  # customers whose marketing consent changed
    changes: CounterChanges | None = None


def apply_updates(
    session: Session,
    statuses: list[tuple[int, StatusEvent]],
    clicks: list[tuple[int, ReplyClick]],
    preferences: list[tuple[int, PreferenceChange]] = (),
) -> ApplyResult:
    """Apply statuses, clicks and preference changes already routed to their shop:
    ``(shop_id, item)`` pairs. Rows are locked messages first, then customers, then campaigns,
    the one order every writer here follows, so concurrent drains cannot deadlock."""
    rows = reduce_statuses(statuses)
    wanted = [(row.shop_id, row.wamid, row.message_id) for row in rows]
    wanted += [(shop_id, click.context_wamid, None) for shop_id, click in clicks]
    locked = lock_messages(session, wanted)
    changes = CounterChanges()
    ratcheted = apply_status_rows(session, rows, locked, changes)
    result = ApplyResult(
        applied=ratcheted.applied,
        clicks=record_clicks(session, clicks, locked, changes),
        parked=parked.park(session, ratcheted.unmatched),
        changes=changes,
    )
    result.consents = unsubscribe_recipients(session, ratcheted.stopped)
    result.consents += apply_preferences(session, list(preferences))
    changes.apply(session)
    return result


def release_parked(session: Session, shop_id: int, wamids: list[str]) -> int:
    """Apply (with the same ratchet and counter updates) and delete any parked statuses for
    ``wamids`` of ``shop_id``, in the caller's transaction. Answers how many were applied."""
    if not wamids:
        return 0
    # Lock the messages before taking their parked rows: every writer takes messages first.
    lock_messages(session, [(shop_id, wamid, None) for wamid in wamids])
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
