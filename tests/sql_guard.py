"""Every SQL statement the app executes during the tests, checked by tests/shard_keys.py.

A SQLAlchemy ``before_cursor_execute`` listener on every engine parses each statement that the
app's own code (core/, web/, jobs/) issued and records the shop-owned tables it touches without
a shop condition; the test that ran it then fails (tests/conftest.py). Statements written by a
test or a fixture are the test's business and are not checked, nor are migrations (DDL and
their data fixes run once, outside any shop). Statements run in a subprocess (the few tests
that start a real worker process) are not seen here.

Cross-shop statements are allowed only from the functions listed in ``CROSS_SHOP``, each with
the reason it has to look at every shop.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.shard_keys import UnparsableStatement, unscoped_tables

ROOT = Path(__file__).resolve().parent.parent
APP_PACKAGES = ("core/", "web/", "jobs/")
NOT_CHECKED = ("core/migrations/", "core/ops/migrate.py")

# (file, function): why this statement legitimately spans shops. On Citus each of these is a
# multi-shard query (or runs on the coordinator's local tables) and must stay rare and cheap.
CROSS_SHOP: dict[tuple[str, str], str] = {
    # Routing: a Meta body names a phone number id, not a shop; the shop is found by it before
    # any message is looked up (docs/scaling.md). One indexed lookup per batch of bodies.
    ("core/meta_webhooks/routing.py", "_last_connected"): "routing a webhook to its shop by phone number id",
    # The consent write-back job finds the shops with stops to write back to Shopify, then works
    # shop by shop.
    ("core/shopify/consent_writeback.py", "shops_with_pending"): "periodic: shops with pending write-backs",
    # The parked-status sweeper: a periodic job that looks, for every shop at once, for parked
    # statuses whose wamid has been recorded since. One pass a minute over a small table.
    ("core/meta_webhooks/parked.py", "recorded_wamids"): "periodic sweep of parked statuses, all shops",
    ("core/meta_webhooks/parked.py", "expire_parked"): "retention: drop parked statuses past their age",
    # `flask monitor` (cron) finds the open campaigns of every shop, then works shop by shop.
    ("web/cli/campaigns.py", "monitor_command"): "cron entry point: open campaigns of all shops",
    # The campaign reconciler (periodic, every 30 s) finds the open campaigns of every shop, then
    # restarts each one's jobs shop by shop.
    ("jobs/reconcile.py", "reconcile_campaigns"): "periodic: open campaigns of all shops",
    # The privacy sweep (periodic, every minute) finds the shops with a compliance request left
    # open (an index of open requests only), then queues each shop's own job.
    ("core/shopify/privacy.py", "shops_with_open_requests"): "periodic: shops with open privacy requests",
    # The periodic retry of WABA unsubscriptions finds the released tokens still waiting, then
    # works shop by shop. One row per shop at most, and almost always none.
    ("core/whatsapp/release.py", "released_shop_ids"): "periodic: released Meta tokens still to unsubscribe",
    # An operator's command: re-encrypt every stored token (shops' and released Meta tokens kept
    # on whatsapp_connections) with the first key, across shops.
    ("core/ops/key_rotation.py", "rotate_keys"): "operator command: re-encrypt every stored token",
    # Retention of the Shopify webhook ledger: one periodic DELETE by age across shops.
    ("jobs/shopify.py", "purge_applied"): "retention: applied Shopify webhook ids past 30 days",
}


@dataclass
class Violation:
    statement: str
    tables: tuple[str, ...]
    caller: str

    def __str__(self) -> str:
        tables = ", ".join(self.tables)
        return f"{tables} without a shop_id condition, from {self.caller}:\n  {self.statement}"


@dataclass
class SqlGuard:
    """Collects the violations of the statements executed since the last ``take()``."""

    found: list[Violation] = field(default_factory=list)

    def install(self) -> None:
        event.listen(Engine, "before_cursor_execute", self._check)

    def remove(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._check)

    def take(self) -> list[Violation]:
        found, self.found = self.found, []
        return found

    def _check(self, _conn, _cursor, statement: str, *_event) -> None:
        try:
            tables = unscoped_tables(statement)
        except UnparsableStatement as error:
            tables = (f"(sqlglot could not parse it: {error})",)
        if not tables:
            return
        caller = _app_caller()
        if caller is not None:
            self.found.append(Violation(" ".join(statement.split())[:600], tables, caller))


def _app_caller() -> str | None:
    """``file:function`` of the nearest project frame when it is the app's own code (not a
    test, a fixture or a migration) and no allow-listed function is on the stack; else None."""
    frame, nearest = sys._getframe(2), None
    while frame is not None:
        path = Path(frame.f_code.co_filename)
        if path.is_relative_to(ROOT) and ".venv" not in path.parts:
            relative = path.relative_to(ROOT).as_posix()
            if (relative, frame.f_code.co_name) in CROSS_SHOP or relative.startswith(NOT_CHECKED):
                return None
            if nearest is None:
                if not relative.startswith(APP_PACKAGES):
                    return None
                nearest = f"{relative}:{frame.f_code.co_name}"
        frame = frame.f_back
    return nearest
