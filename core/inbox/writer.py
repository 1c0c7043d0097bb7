"""Group commit for the acknowledgement path: the webhook requests that one process is serving
at the same moment share one INSERT, one commit and one after-commit step.

Meta waits for our 200, and the 200 may only be sent once the body is committed. A commit costs
a WAL flush and every statement a network round trip, which in a busy process cost more than
the request itself; so the first waiting request writes everything queued so far in one
statement, and the requests that arrive meanwhile queue for the next write. Each request still
returns only after its own body is committed, and sees the error if its write failed. With one
request at a time (a sync gunicorn worker, the test client) every write holds one body.

The writing request learns that it wrote the batch (``store`` answers True) and then queues a
drain for all of it, after the others are released, so they may be acknowledged a moment before
that; if the process dies in that moment the bodies are still stored, and the inbox sweeper
queues their drain.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field

import psycopg

from core.db import connection_timeouts, libpq_url
from core.inbox.store import digest
from core.settings import get_settings

# The one statement that stores webhook bodies. ON CONFLICT on the body's SHA-256 digest: a
# redelivery of the same bytes (Meta documents duplicates, and delivers them concurrently) is
# one row whatever the timing, decided atomically by the unique constraint. The arrays go in
# binary (%b): as text, psycopg writes each body as hex into a quoted array literal in Python,
# about 35 us of CPU per body (a tenth of an acknowledgement); binary takes a seventh of that.
_INSERT = """
    INSERT INTO inbox_events (source, digest, topic, headers, body)
    SELECT * FROM unnest(%b::text[], %b::bytea[], %b::text[], %b::text[]::jsonb[], %b::bytea[])
    ON CONFLICT (source, digest) DO NOTHING
"""


class StoreFailed(Exception):
    """The body was not committed: do not acknowledge it."""


@dataclass(eq=False)
class _Body:
    source: str
    body: bytes
    headers: Mapping[str, str]
    topic: str | None
    identity: str | None = None  # see store.digest
    woken: threading.Event = field(default_factory=threading.Event)
    done: bool = False  # written (error None) or failed (error set)
    error: BaseException | None = None


class InboxWriter:
    """Each waiting request is woken exactly once: when its body is written, or to write the
    next batch itself (leader hand-off), so a busy process does not pay for a thundering herd."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queued: list[_Body] = []
        self._writing = False
        self._connection: psycopg.Connection | None = None  # kept between writes
        self._url: str | None = None

    def store(
        self,
        source: str,
        body: bytes,
        headers: Mapping[str, str] | None = None,
        topic: str | None = None,
        identity: str | None = None,
    ) -> bool:
        """Return once ``body`` is committed: True when this call wrote the batch it was in (the
        caller then does the after-commit step for the whole batch). Raise StoreFailed if it
        could not be committed."""
        mine = _Body(source, body, headers or {}, topic, identity)
        with self._lock:
            self._queued.append(mine)
            leads = not self._writing
            self._writing = True
        if not leads:
            mine.woken.wait()
        wrote = not mine.done
        if wrote:  # we lead: write everything queued, ours included
            self._write_queued()
        if mine.error is not None:
            raise StoreFailed(type(mine.error).__name__) from mine.error
        return wrote

    def _write_queued(self) -> None:
        with self._lock:
            batch, self._queued = self._queued, []
        error = None
        try:
            self._insert(batch)
        except Exception as failure:
            error = failure
        for waiting in batch:
            waiting.done, waiting.error = True, error
            waiting.woken.set()
        with self._lock:
            if self._queued:  # hand over: the oldest waiter writes the next batch
                self._queued[0].woken.set()
            else:
                self._writing = False

    def _insert(self, batch: list[_Body]) -> None:
        connection = self._open_connection()
        params = (
            [b.source for b in batch],
            [digest(b.body, b.identity) for b in batch],
            [b.topic for b in batch],
            [json.dumps(dict(b.headers)) for b in batch],
            [b.body for b in batch],
        )
        try:
            connection.execute(_INSERT, params, prepare=True)
        except psycopg.Error:
            self._connection = None
            connection.close()  # the next write opens a fresh connection
            raise

    def _open_connection(self) -> psycopg.Connection:
        """Return this writer's own connection, opening it (again) when needed.

        The writer keeps one connection for the life of the process, so it is a plain psycopg
        connection rather than one checked out of SQLAlchemy's pool: a checked-out pool connection
        is reset (a ROLLBACK sent over its socket) when its last reference goes, and in a forked
        child that socket is the parent's (see ``abandon_connection``).
        """
        url = get_settings().database_url
        if self._connection is not None and self._url != url:  # the app was reconfigured
            self._connection.close()
            self._connection = None
        if self._connection is None:
            self._connection = psycopg.connect(libpq_url(url), autocommit=True, **connection_timeouts())
            self._url = url
        return self._connection

    def abandon_connection(self) -> None:
        """After a fork: leave the parent's connection alone and open a fresh one when needed.

        The child must not speak on the parent's socket, not even to close it (a close sends
        libpq's terminate message, which would end the parent's session). So the inherited
        connection is kept referenced, never used, for the life of the child.
        """
        if self._connection is not None:
            _inherited_from_parent.append(self._connection)
        self._connection = None


_writers: dict[str, InboxWriter] = {}


def writer(name: str) -> InboxWriter:
    """The process's writer of that name, made on first use."""
    found = _writers.get(name)
    if found is None:
        found = _writers[name] = InboxWriter()
    return found


_inherited_from_parent: list[psycopg.Connection] = []


def _abandon_in_child() -> None:
    for found in _writers.values():
        found.abandon_connection()


os.register_at_fork(after_in_child=_abandon_in_child)
