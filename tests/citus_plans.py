"""On Citus, the hot paths' statements must each run on one shard: their plans are read back.

While the tests run on a Citus coordinator (``make citus-test``), a SQLAlchemy
``before_cursor_execute`` listener keeps every statement that one of the hot paths below
executed, with its parameters. After each test, each kept statement is planned again with the
same parameters (``EXPLAIN (FORMAT JSON)``, in a transaction that is rolled back) and the test
fails when Citus did not plan it as one router query: a "Task Count" above 1 anywhere in the
plan, or distributed subplans (parts Citus runs first, each a round trip of its own, their
results shipped to the shard), or a refusal. Statements on local and reference tables have one
task or none, and pass; so does an ``INSERT ... SELECT FROM unnest(...)``, which the
coordinator runs and whose rows it sends to their shops' shards (one shard for one shop's rows).

A forked RQ work horse (``run_jobs``) runs the drain, dispatch and monitor jobs: it inherits the
listener, and writes what it keeps to a folder the test process reads, so jobs are checked too.
Statements of a worker process started with ``subprocess`` are not seen (as in tests/sql_guard.py).

tests/sql_guard.py checks every statement's text on any server; this reads Citus's own plan.
"""

from __future__ import annotations

import os
import pickle
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy import event
from sqlalchemy.engine import Engine

from core.db import libpq_url
from tests.sql_guard import CROSS_SHOP, ROOT

# (file, function): the hot paths. Every statement run inside one of them, in any function it
# calls, must be a single-shard (router) query on Citus.
HOT_PATHS: dict[tuple[str, str], str] = {
    ("core/meta_webhooks/drain.py", "_apply_events"): "the drain: apply a batch of Meta's webhooks",
    ("core/meta_webhooks/drain.py", "_apply_routed"): "the drain: a batch's items, by halves",
    ("core/meta_webhooks/apply.py", "release_parked"): "statuses that waited for their wamid",
    ("core/dispatch/claim.py", "claim_batch"): "dispatch: claim a batch of messages",
    ("core/dispatch/record.py", "record_outcomes"): "dispatch: record Meta's answers",
    ("core/campaigns/monitor.py", "monitor_campaign"): "the monitor of one campaign",
    ("web/pages/campaigns.py", "campaign_page"): "the campaign page",
    ("web/pages/campaigns.py", "campaign_timings_fragment"): "the campaign page's timings",
    ("web/api/campaigns.py", "show_campaign"): "the campaign, as the page polls it",
    ("web/pages/messages.py", "messages_page"): "a campaign's messages",
    ("web/api/messages.py", "list_messages"): "a campaign's messages, as JSON",
}
_DML = re.compile(r"^\s*\(?\s*(SELECT|WITH|INSERT|UPDATE|DELETE)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Kept:
    path: str  # the hot path's "file:function"
    statement: str
    parameters: object


@dataclass(frozen=True)
class MultiShard:
    kept: Kept
    tasks: list[int]  # the Task Count of each distributed step
    subplans: int = 0
    refused: str | None = None

    def __str__(self) -> str:
        what = (
            f"refused: {self.refused}"
            if self.refused
            else f"task counts {self.tasks}, subplans {self.subplans}"
        )
        return f"{self.kept.path} ({what}):\n  {' '.join(self.kept.statement.split())[:600]}"


class PlanRecorder:
    """Keeps the hot paths' statements, in this process and its forked children."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="citus-plans-"))

    def install(self) -> None:
        event.listen(Engine, "before_cursor_execute", self._keep)

    def remove(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._keep)
        for path in self.folder.iterdir():
            path.unlink()
        self.folder.rmdir()

    def _keep(self, _conn, _cursor, statement: str, parameters, _context, executemany: bool) -> None:
        if not _DML.match(statement):
            return
        path = _hot_path()
        if path is None:
            return
        if executemany and parameters:
            parameters = parameters[0]  # one row plans like the others
        # One file per process: a forked work horse appends to its own, the test reads them all.
        with open(self.folder / f"{os.getpid()}.pickle", "ab") as out:
            pickle.dump(Kept(path, statement, parameters), out)

    def take(self) -> list[Kept]:
        kept = []
        for path in sorted(self.folder.iterdir()):
            with open(path, "rb") as records:
                while True:
                    try:
                        kept.append(pickle.load(records))
                    except EOFError:
                        break
            path.unlink()
        return kept

    def multi_shard(self, database_url: str) -> list[MultiShard]:
        """The kept statements Citus would not run on a single shard (each distinct one once)."""
        seen, found = set(), []
        with psycopg.connect(libpq_url(database_url)) as conn:
            for kept in self.take():
                key = (kept.path, kept.statement)
                if key in seen:
                    continue
                seen.add(key)
                verdict = _plan(conn, kept)
                if verdict is not None:
                    found.append(verdict)
        return found


def _plan(conn: psycopg.Connection, kept: Kept) -> MultiShard | None:
    try:
        [[plan]] = conn.execute("EXPLAIN (FORMAT JSON) " + kept.statement, kept.parameters).fetchall()
    except psycopg.Error as error:
        return MultiShard(kept, [], refused=str(error).splitlines()[0])
    finally:
        conn.rollback()
    tasks, subplans = task_counts(plan), len(_values_of(plan, "Subplans"))
    if subplans or any(count > 1 for count in tasks):
        return MultiShard(kept, tasks, subplans)
    return None


def task_counts(plan) -> list[int]:
    """Every "Task Count" in a Citus plan (EXPLAIN's JSON), distributed subplans included."""
    return [int(count) for count in _values_of(plan, "Task Count")]


def _values_of(plan, key: str) -> list:
    """The values of ``key`` anywhere in a JSON plan (lists are flattened)."""
    found, stack = [], [plan]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if key in node:
                value = node[key]
                found += value if isinstance(value, list) else [value]
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _hot_path() -> str | None:
    """``file:function`` of the hot path on the stack, unless a function allowed to span shops
    (tests/sql_guard.py's CROSS_SHOP) ran the statement."""
    frame, found = sys._getframe(2), None
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.is_relative_to(ROOT) and ".venv" not in path.parts:
            key = (path.relative_to(ROOT).as_posix(), frame.f_code.co_name)
            if key in CROSS_SHOP:
                return None
            if key in HOT_PATHS:
                found = f"{key[0]}:{key[1]}"
        frame = frame.f_back
    return found
