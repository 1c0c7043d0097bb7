"""On Citus, a statement the coordinator refuses fails the test that ran it, even when the app
caught the error.

The app catches some errors by design: the Shopify and Meta drains note a failed delivery and
try it again later, so a statement Citus refuses there leaves nothing but a retried event, and a
test sees only a figure that never arrives (an order webhook's ``UPDATE shops SET
orders_changed_at = clock_timestamp()`` was refused so: a VOLATILE function in an UPDATE of a
reference table; the holdout's orders then read as none). A SQLAlchemy ``handle_error``
listener keeps every statement the server refused as unsupported (SQLSTATE 0A000, Citus's
"feature not supported"), in this process and in a forked RQ work horse, as
tests/citus_plans.py keeps the hot paths' statements; conftest.py fails the test with them.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

FEATURE_NOT_SUPPORTED = "0A000"


@dataclass(frozen=True)
class Refused:
    statement: str
    error: str

    def __str__(self) -> str:
        return f"{self.error}:\n  {' '.join(self.statement.split())[:600]}"


class RefusalRecorder:
    """Keeps the statements the coordinator refused, in this process and its forked children."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="citus-refusals-"))

    def install(self) -> None:
        event.listen(Engine, "handle_error", self._keep)

    def remove(self) -> None:
        event.remove(Engine, "handle_error", self._keep)
        for path in self.folder.iterdir():
            path.unlink()
        self.folder.rmdir()

    def _keep(self, context) -> None:
        error = context.original_exception
        if getattr(error, "sqlstate", None) != FEATURE_NOT_SUPPORTED:
            return
        refused = Refused(context.statement or "", str(error).splitlines()[0])
        with open(self.folder / f"{os.getpid()}.pickle", "ab") as out:
            pickle.dump(refused, out)

    def take(self) -> list[Refused]:
        found = []
        for path in sorted(self.folder.iterdir()):
            with open(path, "rb") as records:
                while True:
                    try:
                        found.append(pickle.load(records))
                    except EOFError:
                        break
            path.unlink()
        return found
