"""The inbox: every signed webhook body, stored exactly as received before it is acknowledged.

Storing is one ``INSERT ... ON CONFLICT DO NOTHING`` on the body's SHA-256 digest, so a
redelivery of the same bytes (Meta documents duplicates, and delivers them concurrently) is one
row whatever the timing: the unique constraint decides atomically, never a read-then-write.

Draining claims rows with ``FOR UPDATE SKIP LOCKED``: two drains never take the same row, and
a drain that dies (killed worker, lost connection) releases its rows with its transaction, so
they are taken again and nothing is lost or applied twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

# After this many failed attempts an event is set aside (processed, outcome "failed", its last
# error kept) so that one body we cannot apply never blocks the ones behind it.
MAX_ATTEMPTS = 5

_STORE = text(
    """
    INSERT INTO inbox_events (source, digest, topic, headers, body)
    VALUES (:source, :digest, :topic, :headers, :body)
    ON CONFLICT (source, digest) DO NOTHING
    """
).bindparams(bindparam("headers", type_=JSONB))

_CANDIDATES = text(
    """
    SELECT id, octet_length(body) AS size
      FROM inbox_events
     WHERE processed_at IS NULL AND source = :source AND NOT (id = ANY(CAST(:skip AS bigint[])))
     ORDER BY id
     LIMIT :limit
       FOR UPDATE SKIP LOCKED
    """
)

_BODIES = text(
    """
    SELECT id, body, received_at, attempts
      FROM inbox_events
     WHERE id = ANY(CAST(:ids AS bigint[]))
     ORDER BY id
    """
)

_MARK = text(
    """
    UPDATE inbox_events AS e
       SET processed_at = now(), attempts = e.attempts + 1, outcome = o.outcome, last_error = o.note
      FROM unnest(CAST(:ids AS bigint[]), CAST(:outcomes AS text[]), CAST(:notes AS text[]))
           AS o(id, outcome, note)
     WHERE e.id = o.id
    """
)

_FAIL = text(
    """
    UPDATE inbox_events
       SET attempts = attempts + 1,
           last_error = :error,
           processed_at = CASE WHEN attempts + 1 >= :max_attempts THEN now() END,
           outcome = CASE WHEN attempts + 1 >= :max_attempts THEN 'failed' END
     WHERE id = :id AND processed_at IS NULL
    """
)

_BACKLOG = text(
    """
    SELECT count(*) AS pending, min(received_at) AS oldest
      FROM inbox_events
     WHERE processed_at IS NULL AND source = :source
    """
)


@dataclass(frozen=True, slots=True)
class InboxEvent:
    id: int
    body: bytes
    received_at: datetime
    attempts: int


def digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()


def store(
    connection: Connection,
    source: str,
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    topic: str | None = None,
) -> bool:
    """Insert a verified body; answers False when the very same bytes were already stored."""
    result = connection.execute(
        _STORE,
        {
            "source": source,
            "digest": digest(body),
            "topic": topic,
            "headers": dict(headers or {}),
            "body": body,
        },
    )
    return result.rowcount == 1


def claim(
    session: Session, source: str, *, limit: int, max_bytes: int, skip: Collection[int] = ()
) -> list[InboxEvent]:
    """Lock and read the oldest unprocessed events of ``source`` that no other drain holds
    (leaving out the ids in ``skip``: events that already failed in this drain).

    At most ``limit`` events and, beyond the first, at most ``max_bytes`` of bodies: Meta's
    bodies reach 3 MB, and a batch must fit in a worker's memory. Rows locked but left out by
    the byte budget stay unprocessed and are taken by the next batch.
    """
    ids, total = [], 0
    params = {"source": source, "limit": limit, "skip": list(skip)}
    for row in session.execute(_CANDIDATES, params):
        if ids and total + row.size > max_bytes:
            break
        ids.append(row.id)
        total += row.size
    if not ids:
        return []
    return [
        InboxEvent(row.id, bytes(row.body), row.received_at, row.attempts)
        for row in session.execute(_BODIES, {"ids": ids})
    ]


def mark_processed(session: Session, outcomes: Mapping[int, tuple[str, str | None]]) -> None:
    """Record each event's outcome (``applied``, ``not_json``, ...) with an optional note."""
    if not outcomes:
        return
    ids = list(outcomes)
    session.execute(
        _MARK,
        {
            "ids": ids,
            "outcomes": [outcomes[i][0] for i in ids],
            "notes": [outcomes[i][1] for i in ids],
        },
    )


def record_failure(session: Session, event_id: int, error: str) -> None:
    """Count a failed attempt; the last allowed one sets the event aside as ``failed``."""
    session.execute(_FAIL, {"id": event_id, "error": error[:2000], "max_attempts": MAX_ATTEMPTS})


def backlog(session: Session, source: str) -> tuple[int, datetime | None]:
    """How many events of ``source`` wait, and when the oldest of them arrived."""
    row = session.execute(_BACKLOG, {"source": source}).one()
    return row.pending, row.oldest
