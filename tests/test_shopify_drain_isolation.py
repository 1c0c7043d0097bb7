"""One Shopify event that is slow or keeps failing never stops the drain for the others: its
attempt is counted outside the transaction that applies it, it waits longer after each failed
attempt, and after a few attempts it is set aside as failed, for an operator to see and replay."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from core.inbox.store import MAX_ATTEMPTS
from core.models import Customer, InboxEvent, Shop
from core.shopify.customers import lock_customers
from jobs.shopify import purge_applied, request_shopify_drain, sweep_shopify_inbox
from tests.shopify_webhooks import customer_body, post

SLOW, OTHER = "slow.myshopify.com", "other.myshopify.com"
JAN = "2026-01-15T10:00:00Z"
POISON_CUSTOMER = 666


@pytest.fixture
def statement_timeout(monkeypatch, service_urls):
    """Run jobs with DATABASE_STATEMENT_TIMEOUT_S at the seconds given (through an engine of
    their own: another application_name, so not the suite's cached one)."""

    def set_to(seconds: int) -> None:
        url = make_url(service_urls["database_url"]).update_query_dict(
            {"application_name": f"statement-timeout-{seconds}s"}
        )
        monkeypatch.setenv("DATABASE_URL", url.render_as_string(hide_password=False))
        monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT_S", str(seconds))

    return set_to


@pytest.fixture
def poison_customer(make):
    """Make PostgreSQL refuse any write of customer 666: a body the drain cannot apply."""
    with make.engine.begin() as connection:
        connection.execute(
            text(
                "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER refuse_poison BEFORE INSERT OR UPDATE ON customers FOR EACH ROW"
                f" WHEN (NEW.shopify_customer_id = {POISON_CUSTOMER}) EXECUTE FUNCTION refuse_poison()"
            )
        )

    def cure() -> None:
        with make.engine.begin() as connection:
            connection.execute(text("DROP TRIGGER IF EXISTS refuse_poison ON customers"))

    yield cure
    cure()
    with make.engine.begin() as connection:
        connection.execute(text("DROP FUNCTION refuse_poison()"))


@contextmanager
def customer_writes_held(engine: Engine, shop: Shop) -> Iterator[None]:
    """Hold the shop's customer lock, as a long customer import does while it writes: every
    customer event of that shop waits for it."""
    with Session(engine) as session, session.begin():
        lock_customers(session, shop.id)
        yield


@contextmanager
def connection_cut_while_waiting(engine: Engine) -> Iterator[list[int]]:
    """Cut the connection of the first backend seen waiting on a lock (a network cut or a
    server restart in the middle of an event); yields the pids cut."""
    cut: list[int] = []
    done = threading.Event()

    def watch() -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            while not done.is_set() and not cut:
                pid = connection.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid() LIMIT 1"
                    )
                ).scalar()
                if pid:
                    connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                    cut.append(pid)
                time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield cut
    finally:
        done.set()
        watcher.join(timeout=10)


def drain(run_jobs) -> None:
    """Queue a Shopify drain as a stored webhook does, and run it with a real worker."""
    request_shopify_drain()
    run_jobs()


def time_passes(engine: Engine) -> None:
    """Every event waiting for a later attempt is due now."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(InboxEvent).where(InboxEvent.processed_at.is_(None)).values(retry_at=datetime.now(UTC))
        )


def events(engine: Engine) -> dict[str, InboxEvent]:
    """The stored Shopify events by the shop their headers name."""
    with Session(engine) as session:
        rows = session.scalars(select(InboxEvent).order_by(InboxEvent.id)).all()
    return {row.headers["X-Shopify-Shop-Domain"]: row for row in rows}


def customer_ids(engine: Engine, shop: Shop) -> set[int]:
    with Session(engine) as session:
        return set(session.scalars(select(Customer.shopify_customer_id).where(Customer.shop_id == shop.id)))


def test_a_slow_event_waits_and_the_next_shops_event_applies(client, make, run_jobs, statement_timeout):
    """A shop's event that outlasts the statement timeout (a long import holds that shop's
    customers) counts one attempt and waits for a later drain; another shop's event queued
    behind it applies in the same drain."""
    statement_timeout(1)
    slow, other = make.shop(SLOW), make.shop(OTHER)
    post(client, "customers/update", customer_body(1, updated_at=JAN), shop=SLOW)
    post(client, "customers/update", customer_body(2, updated_at=JAN), shop=OTHER)
    with customer_writes_held(make.engine, slow):
        drain(run_jobs)
    assert customer_ids(make.engine, other) == {2}
    waiting = events(make.engine)[SLOW]
    assert (waiting.processed_at, waiting.attempts) == (None, 1)
    assert "QueryCanceled" in waiting.last_error
    assert waiting.retry_at > datetime.now(UTC)
    drain(run_jobs)  # not due yet: no attempt in a tight loop
    assert events(make.engine)[SLOW].attempts == 1
    time_passes(make.engine)
    drain(run_jobs)  # the import is done: it applies
    assert customer_ids(make.engine, slow) == {1}
    assert [(e.outcome, e.attempts) for e in events(make.engine).values()] == [("applied", 2), ("applied", 1)]


def test_a_drain_that_loses_its_transaction_mid_event_has_counted_the_attempt(
    client, make, run_jobs, statement_timeout
):
    """The drain's connection is cut while one shop's event waits: the attempt of every event of
    that batch was counted before (outside the lost transaction), with the reason kept; the next
    drain takes them one at a time, so the other shop's event applies and the slow one waits."""
    statement_timeout(30)
    slow, other = make.shop(SLOW), make.shop(OTHER)
    post(client, "customers/update", customer_body(1, updated_at=JAN), shop=SLOW)
    post(client, "customers/update", customer_body(2, updated_at=JAN), shop=OTHER)
    with customer_writes_held(make.engine, slow), connection_cut_while_waiting(make.engine) as cut:
        drain(run_jobs)
    assert cut
    rows = events(make.engine)
    assert [(r.processed_at, r.attempts) for r in rows.values()] == [(None, 1), (None, 1)]
    assert all("transaction was lost" in r.last_error for r in rows.values())
    time_passes(make.engine)
    statement_timeout(1)
    with customer_writes_held(make.engine, slow):
        drain(run_jobs)
    assert customer_ids(make.engine, other) == {2}
    rows = events(make.engine)
    assert (rows[OTHER].outcome, rows[SLOW].processed_at, rows[SLOW].attempts) == ("applied", None, 2)


def test_an_event_that_keeps_failing_is_set_aside_and_can_be_replayed(
    client, make, run_jobs, runner, poison_customer
):
    """A body the database refuses is tried MAX_ATTEMPTS times, each later than the last, then
    kept aside as failed with its error; `flask inbox failed` lists it, and once the cause is
    gone `flask inbox replay` applies it."""
    shop = make.shop(OTHER)
    post(client, "customers/update", customer_body(POISON_CUSTOMER, updated_at=JAN), shop=OTHER)
    delays = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        drain(run_jobs)
        row = events(make.engine)[OTHER]
        assert (row.attempts, "refused for the test" in row.last_error) == (attempt, True)
        if attempt < MAX_ATTEMPTS:
            assert row.processed_at is None
            delays.append((row.retry_at - datetime.now(UTC)).total_seconds())
            time_passes(make.engine)
    assert delays == sorted(delays) and delays[0] > 0
    assert (row.outcome, row.processed_at is not None) == ("failed", True)
    listed = runner.invoke(args=["inbox", "failed"])
    assert listed.exit_code == 0 and str(row.id) in listed.output and "refused for the test" in listed.output
    poison_customer()
    replayed = runner.invoke(args=["inbox", "replay", str(row.id)])
    assert replayed.exit_code == 0, replayed.output
    run_jobs()
    assert customer_ids(make.engine, shop) == {POISON_CUSTOMER}
    assert events(make.engine)[OTHER].outcome == "applied"


def test_a_failed_events_body_is_kept_a_week_for_its_replay_and_an_applied_one_an_hour(
    client, make, run_jobs, runner, poison_customer
):
    """Two hours on, the retention has emptied the body of an applied event but kept the body
    of one set aside as failed, which `flask inbox failed` lists as replayable; eight days on it
    has emptied that one too, and `flask inbox replay` refuses it, saying why."""
    shop = make.shop(OTHER)
    post(client, "customers/update", customer_body(POISON_CUSTOMER, updated_at=JAN), shop=OTHER)
    post(client, "customers/update", customer_body(5, updated_at=JAN), shop=OTHER)
    for _attempt in range(MAX_ATTEMPTS):
        drain(run_jobs)
        time_passes(make.engine)
    assert customer_ids(make.engine, shop) == {5}
    failed_id = events_by_outcome(make.engine)["failed"]

    assert purge_applied(datetime.now(UTC) + timedelta(hours=2))["bodies"] == 1
    assert bodies_kept(make.engine) == {"failed": True, "applied": False}
    listed = runner.invoke(args=["inbox", "failed"])
    assert f"{failed_id} shopify" in listed.output and "body no longer kept" not in listed.output

    assert purge_applied(datetime.now(UTC) + timedelta(days=8))["bodies"] == 1
    assert bodies_kept(make.engine) == {"failed": False, "applied": False}
    refused = runner.invoke(args=["inbox", "replay", str(failed_id)])
    assert refused.exit_code != 0 and f"{failed_id}: its body is no longer kept" in refused.output


def events_by_outcome(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return dict(session.execute(select(InboxEvent.outcome, InboxEvent.id)).all())


def bodies_kept(engine: Engine) -> dict[str, bool]:
    """Whether each outcome's stored event still holds its body."""
    with Session(engine) as session:
        rows = session.execute(select(InboxEvent.outcome, func.octet_length(InboxEvent.body) > 0)).all()
    return dict(rows)


def test_replay_refuses_an_event_that_did_not_fail(client, make, run_jobs, runner):
    """Only a failed event can be replayed; anything else is refused, naming why, and unchanged."""
    make.shop(OTHER)
    post(client, "customers/update", customer_body(3, updated_at=JAN), shop=OTHER)
    drain(run_jobs)
    row = events(make.engine)[OTHER]
    result = runner.invoke(args=["inbox", "replay", str(row.id), "999999"])
    assert result.exit_code != 0
    assert f"{row.id}: not failed (applied)" in result.output and "999999: no such event" in result.output
    assert events(make.engine)[OTHER].outcome == "applied"


def test_the_sweeper_queues_a_drain_when_a_retry_falls_due(client, make, run_jobs, poison_customer):
    """An event waiting for its next attempt queues no drain before its time; once it is due
    the periodic sweeper queues one, and the attempt is made."""
    make.shop(OTHER)
    post(client, "customers/update", customer_body(POISON_CUSTOMER, updated_at=JAN), shop=OTHER)
    drain(run_jobs)
    assert sweep_shopify_inbox()["requeued"] is False
    with Session(make.engine) as session, session.begin():
        session.execute(update(InboxEvent).values(retry_at=func.now() - timedelta(minutes=1)))
    assert sweep_shopify_inbox()["requeued"] is True
    run_jobs()
    assert events(make.engine)[OTHER].attempts == 2
