"""Apply Meta statuses to messages with the ratchet of core/statuses.py, set-based.

A batch is first reduced to one row per message: the highest rank reached, the earliest time
Meta gave for each stage, the first error. Then one ``UPDATE ... FROM unnest(...)`` folds those
rows into the messages, and every rule is a comparison that gives the same answer whatever order
the events came in, so any permutation, duplication or batching of the same events ends in the
same rows:

- the status only rises (``rank > status_rank``): a late ``sent`` never undoes ``delivered``,
  ``failed`` never overrides ``delivered``/``read``, a duplicate changes nothing;
- each stage time is the earliest Meta reported (``LEAST``), whatever arrived first: that is the
  "first seen" time in Meta's clock, never the order of our queue;
- ``read`` implies delivered: Meta skips ``delivered`` when the user is inside the chat, so a
  read time is also a delivered time;
- the error kept is the first failure (earliest time; ties broken by the error's own fields), and
  it stays for the record when a later ``delivered``/``read`` outranks the failure;
- pricing, conversation and BSUID fields are filled when empty: Meta sends them on ``sent`` and
  on one of ``delivered``/``read``, with the same values.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.errors import category_of
from core.meta_webhooks.parse import MetaError, StatusEvent
from core.meta_webhooks.tally import CounterChanges, Funnel
from core.meta_webhooks.targets import LockedMessages
from core.statuses import RANK, MessageStatus

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
    message_id: int | None = None
    rank: int = -1
    status: str = ""
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    failed_at: datetime | None = None
    first_failure: tuple | None = None  # _failure_key of the failure whose error is kept
    error: MetaError | None = None
    filled: dict[str, object] = field(default_factory=dict)

    def add(self, event: StatusEvent) -> None:
        self.events.append(event)
        if event.message_id is not None:
            self.message_id = min(self.message_id or event.message_id, event.message_id)
        rank = RANK[event.status]
        if rank > self.rank:
            self.rank, self.status = rank, str(event.status)
        stage = STAGE_OF[event.status]
        setattr(self, stage, _earliest(getattr(self, stage), event.at))
        if event.status == MessageStatus.READ:
            self.delivered_at = _earliest(self.delivered_at, event.at)
        if event.status == MessageStatus.FAILED:
            key = _failure_key(event)
            if self.first_failure is None or key < self.first_failure:
                self.first_failure, self.error = key, event.error

    def fill_once_fields(self) -> None:
        # In Meta's time order, so a batch agrees with the same events applied one by one.
        for event in sorted(self.events, key=lambda e: (e.at, RANK[e.status])):
            for name in FILLED_ONCE:
                value = getattr(event, name)
                if value is not None:
                    self.filled.setdefault(name, value)


def _earliest(current: datetime | None, new: datetime) -> datetime:
    return new if current is None or new < current else current


def _failure_key(event: StatusEvent) -> tuple:
    """The order that picks the first failure: its time, then the error's own fields. The SQL
    below compares the same tuple, with the byte-order "C" collation (Python's string order)."""
    e = event.error or MetaError(None, None, None, None)
    return (event.at, e.code or "", e.title or "", e.details or "", e.href or "")


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


_FIRST_ERROR = """u.failed_at IS NOT NULL AND (m.failed_at IS NULL OR
    ROW(u.failed_at, COALESCE(u.error_code, '') COLLATE "C", COALESCE(u.error_title, '') COLLATE "C",
        COALESCE(u.error_details, '') COLLATE "C", COALESCE(u.error_href, '') COLLATE "C")
  < ROW(m.failed_at, COALESCE(m.error_code, '') COLLATE "C", COALESCE(m.error_title, '') COLLATE "C",
        COALESCE(m.error_details, '') COLLATE "C", COALESCE(m.error_href, '') COLLATE "C"))"""

NEW_VALUES = {
    "wamid": "COALESCE(m.wamid, u.wamid)",
    "status": "CASE WHEN u.rank > m.status_rank THEN u.status ELSE m.status END",
    "sent_at": "LEAST(m.sent_at, u.sent_at)",
    "delivered_at": "LEAST(m.delivered_at, u.delivered_at)",
    "read_at": "LEAST(m.read_at, u.read_at)",
    "failed_at": "LEAST(m.failed_at, u.failed_at)",
    **{
        column: f"CASE WHEN {_FIRST_ERROR} THEN u.{column} ELSE m.{column} END"
        for column in (
            "error_code",
            "error_category",
            "error_title",
            "error_details",
            "error_href",
            "error_source",
        )
    },
    **{column: f"COALESCE(m.{column}, u.{column})" for column in FILLED_ONCE},
}

_INPUT = (
    ("shop_id", "bigint"),
    ("id", "bigint"),
    ("wamid", "text"),
    ("rank", "int"),
    ("status", "text"),
    ("sent_at", "timestamptz"),
    ("delivered_at", "timestamptz"),
    ("read_at", "timestamptz"),
    ("failed_at", "timestamptz"),
    ("error_code", "text"),
    ("error_category", "text"),
    ("error_title", "text"),
    ("error_details", "text"),
    ("error_href", "text"),
    ("error_source", "text"),
    ("pricing_category", "text"),
    ("pricing_type", "text"),
    ("pricing_billable", "boolean"),
    ("conversation_id", "text"),
    ("conversation_origin", "text"),
    ("recipient_user_id", "text"),
)

_UPDATE = text(
    f"""
    UPDATE messages AS m
       SET {", ".join(f"{column} = {expression}" for column, expression in NEW_VALUES.items())}
      FROM unnest({", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in _INPUT)})
           AS u({", ".join(name for name, _ in _INPUT)})
     WHERE m.shop_id = u.shop_id AND m.id = u.id
       AND ({", ".join(f"m.{column}" for column in NEW_VALUES)})
           IS DISTINCT FROM ({", ".join(NEW_VALUES.values())})
    RETURNING m.shop_id, m.id, m.campaign_id, m.wamid, m.status,
              m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL AS delivered, m.read_at IS NOT NULL AS read
    """
)


# Meta's "the user stopped marketing messages from this business": a consent change, too.
STOPPED_MARKETING = "131050"


@dataclass
class RatchetResult:
    applied: int = 0  # status events that found their message
    unmatched: list[StatusRow] = field(default_factory=list)
    # (shop_id, message id) -> the earliest 131050 failure: their customers withdrew consent
    stopped: dict[tuple[int, int], datetime] = field(default_factory=dict)


def apply_status_rows(
    session: Session, rows: list[StatusRow], locked: LockedMessages, changes: CounterChanges
) -> RatchetResult:
    """Fold ``rows`` into their (already locked) messages; rows whose message is unknown are
    answered back, for parking."""
    result = RatchetResult()
    matched: list[tuple[int, StatusRow]] = []
    for row in rows:
        message, _binds = locked.for_status(row.shop_id, row.wamid, row.message_id)
        if message is None:
            result.unmatched.append(row)
            continue
        matched.append((message.id, row))
        result.applied += len(row.events)
        stops = [e.at for e in row.events if e.error is not None and e.error.code == STOPPED_MARKETING]
        if stops:
            result.stopped[(row.shop_id, message.id)] = min(stops)
    if not matched:
        return result
    for moved in session.execute(_UPDATE, _columns(matched)):
        before = locked.by_id[(moved.shop_id, moved.id)].before
        after = Funnel.of(wamid=moved.wamid, status=moved.status, delivered=moved.delivered, read=moved.read)
        changes.message_moved(moved.shop_id, moved.campaign_id, before, after)
    return result


def _columns(matched: list[tuple[int, StatusRow]]) -> dict[str, list]:
    columns: dict[str, list] = {name: [] for name, _ in _INPUT}
    for message_id, row in matched:
        error = row.error if row.failed_at is not None else None
        values = {
            "shop_id": row.shop_id,
            "id": message_id,
            "wamid": row.wamid,
            "rank": row.rank,
            "status": row.status,
            "sent_at": row.sent_at,
            "delivered_at": row.delivered_at,
            "read_at": row.read_at,
            "failed_at": row.failed_at,  # the time of the kept error: the earliest failure
            "error_code": error.code if error else None,
            "error_category": str(category_of(error.code)) if error and error.code else None,
            "error_title": error.title if error else None,
            "error_details": error.details if error else None,
            "error_href": error.href if error else None,
            "error_source": "meta" if row.failed_at is not None else None,
            **{name: row.filled.get(name) for name in FILLED_ONCE},
        }
        for name, value in values.items():
            columns[name].append(value)
    return columns
