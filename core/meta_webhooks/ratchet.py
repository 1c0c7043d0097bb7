"""Apply Meta statuses to messages with the ratchet of core/rules/statuses.py, set-based.

A batch is first reduced to one row per message: the highest rank reached, the earliest time
Meta gave for each stage, the first error. Then one ``UPDATE ... FROM unnest(...)`` (status_sql.py)
folds those rows into the messages, and every rule is a comparison that gives the same answer whatever order
the events came in, so any permutation, duplication or batching of the same events ends in the
same rows:

- the status only rises (``rank > status_rank``): a late ``sent`` never undoes ``delivered``,
  ``failed`` never overrides ``delivered``/``read``, a duplicate changes nothing;
- each stage time is the earliest Meta reported (``LEAST``), whatever arrived first: that is the
  "first seen" time in Meta's clock, never the order of our queue;
- ``read`` implies delivered: Meta skips ``delivered`` when the user is inside the chat, so a
  read time is also a delivered time;
- the error kept is the first failure: the earliest in Meta's clock, and within one second the
  one stored first (Meta's clock is what orders a message's failures; two different failures
  in the same second are the one case where arrival decides). It stays for the record when a
  later ``delivered``/``read`` outranks the failure;
- pricing, conversation and BSUID fields are filled when empty: Meta sends them on ``sent`` and
  on one of ``delivered``/``read``, with the same values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from core.meta_webhooks.parse import MetaError, StatusEvent
from core.rules.statuses import RANK, MessageStatus

STAGE_OF = {
    MessageStatus.SENT: "sent_at",
    MessageStatus.DELIVERED: "delivered_at",
    MessageStatus.READ: "read_at",
    MessageStatus.FAILED: "failed_at",
}
FILLED_ONCE = (
    "pricing_category",
    "pricing_type",
    "pricing_billable",
    "conversation_id",
    "conversation_origin",
    "recipient_user_id",
)


@dataclass
class StatusRow:
    """What one batch says about one message."""

    shop_id: int
    wamid: str
    events: list[StatusEvent] = field(default_factory=list)
    # The events' callback data (the least, so any order of the same events gives the same) and
    # every recipient they name: what binding by callback checks (locked_messages.py).
    callback: str | None = None
    recipients: set[str] = field(default_factory=set)
    message_id: int | None = None  # our message the callback names, once read (apply.py)
    rank: int = -1
    status: str = ""
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    first_failure: datetime | None = None  # time of the failure whose error is kept
    error: MetaError | None = None
    filled: dict[str, object] = field(default_factory=dict)

    def add(self, event: StatusEvent) -> None:
        self.events.append(event)
        if event.callback is not None:
            self.callback = event.callback if self.callback is None else min(self.callback, event.callback)
        if event.recipient_id is not None:
            self.recipients.add(event.recipient_id)
        rank = RANK[event.status]
        if rank > self.rank:
            self.rank, self.status = rank, str(event.status)
        stage = STAGE_OF[event.status]
        setattr(self, stage, _earliest(getattr(self, stage), event.at))
        if event.status == MessageStatus.READ:
            self.delivered_at = _earliest(self.delivered_at, event.at)
        # Events come in the order they were stored, so on a tie the first stored stays.
        if event.status == MessageStatus.FAILED and (
            self.first_failure is None or event.at < self.first_failure
        ):
            self.first_failure, self.error = event.at, event.error

    def fill_once_fields(self) -> None:
        # In Meta's time order, so a batch agrees with the same events applied one by one.
        for event in sorted(self.events, key=lambda e: (e.at, RANK[e.status])):
            for name in FILLED_ONCE:
                value = getattr(event, name)
                if value is not None:
                    self.filled.setdefault(name, value)


def _earliest(current: datetime | None, new: datetime) -> datetime:
    return new if current is None or new < current else current


def reduce_statuses(routed: Iterable[tuple[int, StatusEvent]]) -> list[StatusRow]:
    """One row per (shop, wamid), in a stable order."""
    rows: dict[tuple[int, str], StatusRow] = {}
    for shop_id, event in routed:
        key = (shop_id, event.wamid)
        row = rows.get(key)
        if row is None:
            row = rows[key] = StatusRow(shop_id, event.wamid)
        row.add(event)
    for row in rows.values():
        row.fill_once_fields()
    return [rows[key] for key in sorted(rows)]
