"""The inbox: every signed webhook body, stored exactly as received before it is acknowledged.

Storing is one ``INSERT ... ON CONFLICT DO NOTHING`` on the body's SHA-256 digest, made by
core/inbox/writer.py for both webhook endpoints (web/webhooks/bodies.py): a redelivery of the
same bytes is one row whatever the timing, never a read-then-write.

Draining claims rows with ``FOR UPDATE SKIP LOCKED`` and marks them processed in the same
statement and transaction as it applies them: two drains never take the same row, and a drain
that dies (killed worker, lost connection) releases its rows with its transaction, so they are
taken again and nothing is lost or applied twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

# After this many failed attempts an event is set aside (processed, outcome "failed", its last
# error kept) so that one body we cannot apply never blocks the ones behind it.
MAX_ATTEMPTS = 5
# Bodies up to this size come with the claim; bigger ones are read when the budget allows.
INLINE_BODY_BYTES = 64 * 1024

# Claiming marks the events processed (outcome "applied") in the drain's own transaction: if
# the drain commits, that is the truth, with the rare other outcome set after; if it dies or
# rolls back, the mark goes with it. One statement instead of a lock and a later update.
_CLAIM = text(
    """
    WITH claimed AS (
        SELECT id FROM inbox_events
         WHERE processed_at IS NULL AND source = :source AND NOT (id = ANY(CAST(:skip AS bigint[])))
         ORDER BY id
         LIMIT :limit
           FOR UPDATE SKIP LOCKED
    )
    UPDATE inbox_events AS e
       SET processed_at = now(), attempts = e.attempts + 1, outcome = 'applied', last_error = NULL
      FROM claimed WHERE e.id = claimed.id
    RETURNING e.id, octet_length(e.body) AS size, e.received_at, e.attempts,
              CASE WHEN octet_length(e.body) <= :inline THEN e.body END AS body
    """
)

_BODIES = text("SELECT id, body FROM inbox_events WHERE id = ANY(CAST(:ids AS bigint[]))")

_UNCLAIM = text(
    """
    UPDATE inbox_events SET processed_at = NULL, attempts = attempts - 1, outcome = NULL
     WHERE id = ANY(CAST(:ids AS bigint[]))
    """
)

_OUTCOME = text(
    """
    UPDATE inbox_events AS e SET outcome = o.outcome, last_error = o.note
      FROM unnest(CAST(:ids AS bigint[]), CAST(:outcomes AS text[]), CAST(:notes AS text[]))
           AS o(id, outcome, note)
     WHERE e.id = o.id
    """
)

# A failed attempt (already counted by the claim) leaves the event waiting, or, at the last
# allowed attempt, sets it aside as "failed".
_FAIL = text(
    """
    UPDATE inbox_events
       SET last_error = :error,
           processed_at = CASE WHEN attempts >= :max_attempts THEN now() END,
           outcome = CASE WHEN attempts >= :max_attempts THEN 'failed' END
     WHERE id = :id
    """
)

_BACKLOG = text(
    """
    SELECT count(*) AS pending, min(received_at) AS oldest
      FROM inbox_events
     WHERE processed_at IS NULL AND source = :source
    """
)


@dataclass(slots=True)
class InboxEvent:
    id: int
    body: bytes
    received_at: datetime
    attempts: int


def digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def claim(
    session: Session, source: str, *, limit: int, max_bytes: int, skip: Collection[int] = ()
) -> list[InboxEvent]:
    """Lock, mark processed (in the caller's transaction) and read the oldest unprocessed events
    of ``source`` that no other drain holds, leaving out the ids in ``skip`` (events that
    already failed in this drain). Events whose outcome is not "applied" are corrected with
    set_outcomes(); failures with record_failure().

    At most ``limit`` events and, beyond the first, at most ``max_bytes`` of bodies: Meta's
    bodies reach 3 MB, and a batch must fit in a worker's memory. Small bodies come with the
    claim; big ones are read once the budget says they fit; events over budget are handed back
    (still locked by this transaction, so no other drain takes them until it ends).
    """
    params = {"source": source, "limit": limit, "skip": list(skip), "inline": INLINE_BODY_BYTES}
    rows = sorted(session.execute(_CLAIM, params).all(), key=lambda row: row.id)
    events, total, missing, leftover = [], 0, [], []
    for row in rows:
        if leftover or (events and total + row.size > max_bytes):
            leftover.append(row.id)
            continue
        total += row.size
        events.append(InboxEvent(row.id, row.body, row.received_at, row.attempts))
        if row.body is None:
            missing.append(row.id)
    if leftover:
        session.execute(_UNCLAIM, {"ids": leftover})
    if missing:
        bodies = dict(session.execute(_BODIES, {"ids": missing}).all())
        for event in events:
            if event.body is None:
                event.body = bodies[event.id]
    return events


def set_outcomes(session: Session, outcomes: Mapping[int, tuple[str, str | None]]) -> None:
    """Record outcomes other than a plain "applied" (``not_json``, ... or a note of problems)."""
    other = [
        (event_id, o, note) for event_id, (o, note) in outcomes.items() if (o, note) != ("applied", None)
    ]
    if other:
        session.execute(
            _OUTCOME,
            {"ids": [x[0] for x in other], "outcomes": [x[1] for x in other], "notes": [x[2] for x in other]},
        )


def record_failure(session: Session, event_id: int, error: str) -> None:
    """The claimed event could not be applied: it waits for a later drain, or, at its last
    allowed attempt, is set aside as "failed" with the error kept."""
    session.execute(_FAIL, {"id": event_id, "error": error[:2000], "max_attempts": MAX_ATTEMPTS})


def backlog(session: Session, source: str) -> tuple[int, datetime | None]:
    """How many events of ``source`` wait, and when the oldest of them arrived."""
    row = session.execute(_BACKLOG, {"source": source}).one()
    return row.pending, row.oldest


# An applied body is dropped after its retention; the row and its digest stay, so a
# redelivery of the same bytes is still one row (ON CONFLICT) and changes nothing.
_DROP_APPLIED = text(
    """
    UPDATE inbox_events SET body = ''::bytea
     WHERE id IN (SELECT id FROM inbox_events
                   WHERE source = :source AND processed_at < :cutoff AND octet_length(body) > 0
                   ORDER BY processed_at LIMIT :limit)
    """
)


def drop_applied_bodies(session: Session, source: str, cutoff: datetime, *, limit: int = 20_000) -> int:
    """Empty the bodies of ``source``'s events processed before ``cutoff`` (at most ``limit``
    per call, oldest first); answer how many."""
    return session.execute(_DROP_APPLIED, {"source": source, "cutoff": cutoff, "limit": limit}).rowcount
