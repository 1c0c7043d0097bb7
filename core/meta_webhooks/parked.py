"""Statuses for wamids we have not recorded yet, kept until we do.

Meta's ``sent`` webhook can arrive a few hundred milliseconds after the send call returns, before
the dispatcher has stored the wamid. Such a status (when ``biz_opaque_callback_data`` does not
name the message either) is parked, and applied with the same ratchet as soon as the wamid is
recorded: by the campaign engine calling ``release_parked`` in the transaction that records it,
and, for the rare park that commits just after that transaction looked, by the inbox sweeper.
A status for a message that is not ours (another app on the same number) stays parked until
it expires. Releasing lives in apply.py, beside the rest of the apply path.
"""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.meta_webhooks.parse import BadItem, StatusEvent, parse_status
from core.meta_webhooks.ratchet import StatusRow

_PARK = text(
    """
    INSERT INTO parked_statuses (shop_id, wamid, status)
    SELECT * FROM unnest(CAST(:shop_ids AS bigint[]), CAST(:wamids AS text[]),
                         CAST(CAST(:statuses AS text[]) AS jsonb[]))
    """
)

_TAKE = text(
    """
    DELETE FROM parked_statuses
     WHERE shop_id = :shop_id AND wamid = ANY(CAST(:wamids AS text[]))
    RETURNING status, parked_at
    """
)

# Only recent parks: the race the sweeper closes lasts seconds, and a status for a message that
# is not ours (another app on the number) must not be looked up again every sweep for 30 days.
_RECORDED = text(
    """
    SELECT DISTINCT p.shop_id, p.wamid
      FROM parked_statuses p JOIN messages m ON m.shop_id = p.shop_id AND m.wamid = p.wamid
     WHERE p.parked_at > now() - CAST(:window AS interval)
     ORDER BY p.shop_id, p.wamid
     LIMIT :limit
    """
)
RECENT_WINDOW = "15 minutes"

# A parked status is personal data (it names the recipient's number): never kept past this.
MAX_PARKED_DAYS = 30
_EXPIRE = text("DELETE FROM parked_statuses WHERE parked_at < now() - CAST(:age AS interval)")


def park(session: Session, rows: list[StatusRow]) -> int:
    """Keep every status of ``rows`` as Meta sent it; return how many."""
    shop_ids, wamids, statuses = [], [], []
    for row in rows:
        for event in row.events:
            shop_ids.append(row.shop_id)
            wamids.append(row.wamid)
            statuses.append(json.dumps(event.raw))
    if statuses:
        session.execute(_PARK, {"shop_ids": shop_ids, "wamids": wamids, "statuses": statuses})
    return len(statuses)


def take(session: Session, shop_id: int, wamids: list[str]) -> list[StatusEvent]:
    """Delete and return the parked statuses of ``wamids``."""
    events = []
    for row in session.execute(_TAKE, {"shop_id": shop_id, "wamids": list(wamids)}):
        try:
            event = parse_status(row.status, row.parked_at)
        except BadItem:  # parked as Meta sent it, so it parsed once: this cannot happen
            continue
        if event is not None:
            events.append(event)
    return events


def recorded_wamids(session: Session, *, limit: int = 5000) -> dict[int, list[str]]:
    """Recently parked wamids that a message now carries, by shop."""
    by_shop: dict[int, list[str]] = {}
    for row in session.execute(_RECORDED, {"limit": limit, "window": RECENT_WINDOW}):
        by_shop.setdefault(row.shop_id, []).append(row.wamid)
    return by_shop


def parked_retention(message_ttl_days: int) -> timedelta:
    """How long a parked status may wait for its wamid: a day past the messages' TTL (a later
    status would find the message expired anyway), and never more than 30 days."""
    return timedelta(days=min(MAX_PARKED_DAYS, message_ttl_days + 1))


def expire_parked(session: Session, older_than: timedelta) -> int:
    """Forget parked statuses no message claimed in time (Meta retries for 30 days)."""
    return session.execute(_EXPIRE, {"age": f"{int(older_than.total_seconds())} seconds"}).rowcount
