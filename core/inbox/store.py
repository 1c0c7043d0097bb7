"""The inbox: every signed webhook body, stored exactly as received before it is acknowledged.

Storing is one ``INSERT ... ON CONFLICT DO NOTHING`` on the body's SHA-256 digest, made by
core/inbox/writer.py for both webhook endpoints (web/webhooks/bodies.py): a redelivery of the
same bytes is one row whatever the timing, never a read-then-write.

Meta's drain claims rows with ``FOR UPDATE SKIP LOCKED`` and marks them processed in the same
statement and transaction as it applies them: two drains never take the same row, and a drain
that dies (killed worker, lost connection) releases its rows with its transaction, so they are
taken again and nothing is lost or applied twice.

Shopify's drain takes rows in two steps instead (take(), then lock_taken() and mark_processed()
in the transaction that applies them): an attempt is counted before it is made, so an event
whose applying transaction is lost, over and over, is tried a few times, further and further
apart, and then set aside, instead of coming back first in every claim.
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
     WHERE id = ANY(CAST(:ids AS bigint[]))
    """
)

# Events waiting and due: an event waiting for its next attempt (retry_at) is due from then.
_BACKLOG = text(
    """
    SELECT count(*) AS pending, min(coalesce(retry_at, received_at)) AS oldest
      FROM inbox_events
     WHERE processed_at IS NULL AND source = :source AND coalesce(retry_at, received_at) <= now()
    """
)

# ---- taking events one attempt at a time (the Shopify drain) -----------------------------------
#
# take() counts an attempt and sets the event's next try (retry_at) in a transaction the caller
# commits BEFORE it applies the events in another one. If that other transaction is lost (a
# statement timeout, a cut connection, a killed worker), the attempt still counts and the event
# waits for its next try, so the next claim moves on to the events behind it instead of taking
# the same batch again, forever. After a failed attempt the wait grows fourfold: 15 s, 1 min,
# 4 min, 16 min; the MAX_ATTEMPTS-th failure sets the event aside as "failed".
FIRST_RETRY_S = 15
LAST_RETRY_S = 3600

_TAKE = """
    WITH taken AS (
        SELECT id FROM inbox_events
         WHERE source = :source AND processed_at IS NULL AND {which}
         ORDER BY id
         LIMIT :limit
           FOR UPDATE SKIP LOCKED
    )
    UPDATE inbox_events AS e
       SET attempts = e.attempts + 1,
           retry_at = now() + make_interval(secs => least(:first_s * power(4, e.attempts), :last_s))
      FROM taken WHERE e.id = taken.id
    RETURNING e.id, e.topic, e.headers, e.body, e.received_at, e.attempts
"""
# An event tried before and due again, alone: if it is what lost its batch's transaction, it
# now loses only its own.
_TAKE_RETRY = text(
    _TAKE.format(
        which="attempts > 0 AND attempts < :max_attempts AND coalesce(retry_at, received_at) <= now()"
    )
)
_TAKE_FRESH = text(_TAKE.format(which="attempts = 0"))
# Events whose last allowed attempt never finished (its transaction was lost) are set aside.
_GIVE_UP = text(
    """
    UPDATE inbox_events
       SET processed_at = now(), outcome = 'failed',
           last_error = coalesce(last_error, 'no attempt finished')
     WHERE id IN (SELECT id FROM inbox_events
                   WHERE source = :source AND processed_at IS NULL AND attempts >= :max_attempts
                     AND coalesce(retry_at, received_at) <= now()
                     FOR UPDATE SKIP LOCKED)
    """
)
_LOCK_TAKEN = text(
    """
    SELECT id FROM inbox_events
     WHERE id = ANY(CAST(:ids AS bigint[])) AND processed_at IS NULL
       FOR UPDATE SKIP LOCKED
    """
)
_MARK_PROCESSED = text(
    """
    UPDATE inbox_events AS e
       SET processed_at = now(), outcome = o.outcome, last_error = o.note, retry_at = NULL
      FROM unnest(CAST(:ids AS bigint[]), CAST(:outcomes AS text[]), CAST(:notes AS text[]))
           AS o(id, outcome, note)
     WHERE e.id = o.id
    """
)


@dataclass(slots=True)
class InboxEvent:
    id: int
    body: bytes
    received_at: datetime
    attempts: int


def digest(body: bytes, identity: str | None = None) -> bytes:
    """The inbox's key for a body: its bytes, or, when the sender names the event and identical
    bytes can stand for two events, the event's name and its bytes."""
    if identity is None:
        return hashlib.sha256(body).digest()
    return hashlib.sha256(identity.encode() + b"\n" + body).digest()


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
    record_failures(session, [event_id], error)


def record_failures(session: Session, event_ids: Collection[int], error: str) -> None:
    """record_failure() for several events that failed together."""
    params = {"ids": list(event_ids), "error": error[:2000], "max_attempts": MAX_ATTEMPTS}
    session.execute(_FAIL, params)


def backlog(session: Session, source: str) -> tuple[int, datetime | None]:
    """How many events of ``source`` wait and are due (not waiting for a later attempt), and
    since when the longest-waiting of them has been due."""
    row = session.execute(_BACKLOG, {"source": source}).one()
    return row.pending, row.oldest


def take(session: Session, source: str, *, limit: int) -> list:
    """Count an attempt of the next events of ``source`` and set their next try, in the
    caller's transaction, which the caller commits before applying them (see _TAKE above).
    Answer the rows (id, topic, headers, body, received_at, attempts), oldest first: one event
    tried before and due again if there is one, otherwise up to ``limit`` never tried."""
    session.execute(_GIVE_UP, {"source": source, "max_attempts": MAX_ATTEMPTS})
    params = {
        "source": source,
        "max_attempts": MAX_ATTEMPTS,
        "first_s": FIRST_RETRY_S,
        "last_s": LAST_RETRY_S,
    }
    rows = session.execute(_TAKE_RETRY, params | {"limit": 1}).all()
    if not rows:
        rows = session.execute(_TAKE_FRESH, params | {"limit": limit}).all()
    return sorted(rows, key=lambda row: row.id)


def lock_taken(session: Session, event_ids: Collection[int]) -> set[int]:
    """Lock, in the caller's transaction, those of the events take() answered that are still
    waiting and free; answer their ids. The caller applies only these."""
    return set(session.scalars(_LOCK_TAKEN, {"ids": list(event_ids)}))


def mark_processed(session: Session, outcomes: Mapping[int, tuple[str, str | None]]) -> None:
    """Mark taken events processed with their outcome and note, in the caller's transaction."""
    if outcomes:
        ids = list(outcomes)
        session.execute(
            _MARK_PROCESSED,
            {"ids": ids, "outcomes": [outcomes[i][0] for i in ids], "notes": [outcomes[i][1] for i in ids]},
        )


# A processed body is dropped after its retention; the row and its digest stay, so a
# redelivery of the same bytes is still one row (ON CONFLICT) and changes nothing. A body set
# aside as failed may have a retention of its own (failed_cutoff, never after cutoff): replay
# needs it. A body still waiting (processed_at null) is never dropped.
_DROP_APPLIED = text(
    """
    UPDATE inbox_events SET body = ''::bytea
     WHERE id IN (SELECT id FROM inbox_events
                   WHERE source = :source AND processed_at < :cutoff AND octet_length(body) > 0
                     AND (outcome IS DISTINCT FROM 'failed' OR processed_at < :failed_cutoff)
                   ORDER BY processed_at LIMIT :limit)
    """
)


def drop_applied_bodies(
    session: Session,
    source: str,
    cutoff: datetime,
    *,
    failed_cutoff: datetime | None = None,
    limit: int = 20_000,
) -> int:
    """Empty the bodies of ``source``'s events processed before ``cutoff``, those set aside as
    failed only if also before ``failed_cutoff`` (when given), at most ``limit`` per call,
    oldest first; answer how many."""
    failed_cutoff = min(cutoff, failed_cutoff or cutoff)
    params = {"source": source, "cutoff": cutoff, "failed_cutoff": failed_cutoff, "limit": limit}
    return session.execute(_DROP_APPLIED, params).rowcount


# ---- what an operator sees and replays ----------------------------------------------------------

_FAILED = text(
    """
    SELECT id, source, topic, headers, received_at, processed_at, attempts, last_error,
           octet_length(body) > 0 AS has_body
      FROM inbox_events
     WHERE outcome = 'failed'
     ORDER BY id DESC
     LIMIT :limit
    """
)
_STATES = text(
    """
    SELECT id, source, outcome, octet_length(body) > 0 AS has_body
      FROM inbox_events WHERE id = ANY(CAST(:ids AS bigint[]))
       FOR UPDATE
    """
)
# Replaying is a first delivery again: no attempt used, due now; the last error stays on the row
# until the replay's own outcome replaces it.
_REPLAY = text(
    """
    UPDATE inbox_events SET processed_at = NULL, outcome = NULL, attempts = 0, retry_at = NULL
     WHERE id = ANY(CAST(:ids AS bigint[]))
    """
)


def failed_events(session: Session, *, limit: int = 50) -> list:
    """The latest events set aside as "failed", newest first, with their last error."""
    return session.execute(_FAILED, {"limit": limit}).all()


def replay(session: Session, event_ids: Collection[int]) -> tuple[dict[int, str], dict[int, str]]:
    """Put failed events back in the inbox as if just received, in the caller's transaction.
    Answer (replayed: id -> source, refused: id -> why); an event not failed, or whose body the
    retention already dropped, is refused and left as it is."""
    rows = {row.id: row for row in session.execute(_STATES, {"ids": list(event_ids)})}
    replayed, refused = {}, {}
    for event_id in event_ids:
        row = rows.get(event_id)
        if row is None:
            refused[event_id] = "no such event"
        elif row.outcome != "failed":
            refused[event_id] = f"not failed ({row.outcome or 'still waiting'})"
        elif not row.has_body:
            refused[event_id] = "its body is no longer kept"
        else:
            replayed[event_id] = row.source
    if replayed:
        session.execute(_REPLAY, {"ids": list(replayed)})
    return replayed, refused
