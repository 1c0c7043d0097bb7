"""The drain: our message id in biz_opaque_callback_data, clicks, consent, parking, concurrent
drains, a worker killed mid-batch, and a body that cannot be applied."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from datetime import UTC, datetime

import psutil
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.db import session_scope
from core.inbox.store import MAX_ATTEMPTS
from core.meta_webhooks import drain as drain_module
from core.meta_webhooks.drain import drain_batch
from core.models import Click, Customer
from core.whatsapp.callback import callback_for
from jobs.webhooks import sweep_meta_inbox
from tests import meta
from tests.waiting import wait_for

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PHONE = "1234567890"


@pytest.fixture
def shop(make):
    return make.shop(meta_phone_number_id=PHONE)


@pytest.fixture
def campaign(make, shop):
    return make.campaign(shop, "Autumn sale")


def _messages(make, shop, campaign, count: int) -> None:
    for n in range(count):
        make.message(campaign, make.customer(shop), wamid=f"wamid.m-{n}", status="accepted")
    make.recount(campaign)


def _reply(reply_id: str, context_wamid: str, seconds: int) -> dict:
    return {
        "context": {"from": "15550001111", "id": context_wamid},
        "from": "34612345678",
        "id": reply_id,
        "timestamp": meta.ts(seconds),
        "type": "button",
        "button": {"payload": "SHOP_NOW", "text": "Shop now"},
    }


def test_our_message_id_in_biz_opaque_records_the_wamid_and_counts_sent_once(client, make, shop, campaign):
    """A status that beats the send response finds its message by our id, records the wamid
    (sent_count moves once), and the dispatcher's later `WHERE wamid IS NULL` changes nothing."""
    handed_over = datetime.now(UTC)
    message = make.message(
        campaign, make.customer(shop), status="queued", submitted_at=handed_over, phone="+34600000000"
    )
    make.recount(campaign)
    callback = callback_for(shop.id, message.id)
    body = meta.statuses_body(
        PHONE, meta.status("wamid.new-1", "sent", 1700000000, biz_opaque_callback_data=callback)
    )
    meta.post(client, body)
    meta.drain()
    m = meta.message(make.engine, shop.id, "wamid.new-1")
    assert (m.id, m.status, meta.ts(m.sent_at)) == (message.id, "sent", "1700000000")
    assert meta.counters(make.engine, campaign)["sent"] == 1
    with Session(make.engine) as session, session.begin():
        recorded = session.execute(
            text("UPDATE messages SET wamid = 'wamid.new-1' WHERE id = :id AND wamid IS NULL RETURNING id"),
            {"id": message.id},
        ).all()
    assert recorded == []  # the drain recorded it first, so the dispatcher must not count it
    meta.post(client, meta.statuses_body(PHONE, meta.status("wamid.new-1", "read", 1700000050)))
    meta.drain()
    assert meta.message(make.engine, shop.id, "wamid.new-1").status == "read"
    assert meta.drift(make.engine, campaign) == []


def test_biz_opaque_naming_a_message_sent_under_another_wamid_is_parked(client, make, shop, campaign):
    """Our id names a message that already has a different wamid: the status is not forced on it."""
    message = make.message(campaign, make.customer(shop), wamid="wamid.first", status="accepted")
    body = meta.statuses_body(
        PHONE,
        meta.status(
            "wamid.second",
            "delivered",
            1700000000,
            biz_opaque_callback_data=callback_for(shop.id, message.id),
        ),
    )
    meta.post(client, body)
    meta.drain()
    assert meta.message(make.engine, shop.id, "wamid.first").status == "accepted"
    with make.engine.connect() as connection:
        assert connection.execute(text("SELECT wamid FROM parked_statuses")).scalars().all() == [
            "wamid.second"
        ]


def test_quick_replies_count_once_per_reply_and_clicked_once_per_message(client, make, shop, campaign):
    """A redelivered reply is one click; a second reply to the same message adds a click but
    not a clicked message; a reply to a message of another shop counts nowhere."""
    _messages(make, shop, campaign, 2)
    other = make.shop("other.myshopify.com", meta_phone_number_id="999")
    other_campaign = make.campaign(other, "Other")
    make.message(other_campaign, make.customer(other), wamid="wamid.m-0", status="accepted")
    first = _reply("wamid.reply-1", "wamid.m-0", 1700000100)
    bodies = [
        meta.envelope([meta.change(PHONE, messages=[first])]),
        meta.envelope([meta.change(PHONE, messages=[first]), meta.change(PHONE, statuses=[])]),  # redelivery
        meta.envelope([meta.change(PHONE, messages=[_reply("wamid.reply-2", "wamid.m-0", 1700000200)])]),
        meta.envelope([meta.change(PHONE, messages=[_reply("wamid.reply-3", "wamid.m-1", 1700000300)])]),
    ]
    for body in bodies:
        assert meta.post(client, body).status_code == 200
        meta.drain()
    with Session(make.engine) as session:
        clicks = session.query(Click).order_by(Click.source_id).all()
    assert [(c.shop_id, c.source_id, c.kind) for c in clicks] == [
        (shop.id, "wamid.reply-1", "quick_reply"),
        (shop.id, "wamid.reply-2", "quick_reply"),
        (shop.id, "wamid.reply-3", "quick_reply"),
    ]
    assert meta.counters(make.engine, campaign)["clicked"] == 2
    assert meta.counters(make.engine, other_campaign)["clicked"] == 0
    assert meta.drift(make.engine, campaign) == []


def _preference(wa_id: str, value: str, seconds: int) -> dict:
    return meta.envelope(
        [
            meta.change(
                PHONE,
                field="user_preferences",
                user_preferences=[
                    {
                        "wa_id": wa_id,
                        "detail": "",
                        "category": "marketing_messages",
                        "value": value,
                        "timestamp": seconds,
                    }
                ],
            )
        ]
    )


def test_stop_and_resume_set_consent_latest_first(client, make, shop):
    """stop unsubscribes, resume brings the customer back, and a late stop older than the last
    resume changes nothing; redacted customers and other shops are not touched."""
    customer = make.customer(shop, phone="+34612345678", phone_e164="+34612345678", consent="SUBSCRIBED")
    redacted = make.customer(shop, phone="+34699999999", phone_e164="+34699999999", consent="REDACTED")
    elsewhere = make.shop("other.myshopify.com", meta_phone_number_id="999")
    twin = make.customer(elsewhere, phone="+34612345678", phone_e164="+34612345678", consent="SUBSCRIBED")

    def consent(c) -> str:
        with Session(make.engine) as session:
            return session.get(Customer, (c.shop_id, c.id)).consent

    steps = [("stop", 1000, "UNSUBSCRIBED"), ("resume", 2000, "SUBSCRIBED"), ("stop", 1500, "SUBSCRIBED")]
    for value, seconds, expected in steps:
        meta.post(client, _preference("34612345678", value, seconds))
        meta.drain()
        assert consent(customer) == expected, (value, seconds)
    meta.post(client, _preference("34699999999", "stop", 3000))
    meta.drain()
    assert (consent(redacted), consent(twin)) == ("REDACTED", "SUBSCRIBED")


def test_the_sweeper_applies_parked_statuses_whose_wamid_was_recorded_later(client, make, shop, campaign):
    """A park that committed just after the send was recorded is picked up by the sweeper,
    and parked statuses older than Meta's retry window are forgotten."""
    message = make.message(campaign, make.customer(shop), status="queued")
    make.recount(campaign)
    meta.post(client, meta.statuses_body(PHONE, meta.status("wamid.late", "delivered", 1700000000)))
    meta.drain()
    with Session(make.engine) as session, session.begin():
        session.execute(text("UPDATE messages SET wamid = 'wamid.late' WHERE id = :id"), {"id": message.id})
        session.execute(
            text("UPDATE campaigns SET sent_count = sent_count + 1 WHERE id = :id"), {"id": campaign.id}
        )
        session.execute(
            text(
                "INSERT INTO parked_statuses (shop_id, wamid, status, parked_at)"
                " VALUES (:shop, 'wamid.never', '{}', now() - interval '60 days')"
            ),
            {"shop": shop.id},
        )
    result = sweep_meta_inbox()
    assert (result["released"], result["expired"]) == (1, 1)
    assert meta.message(make.engine, shop.id, "wamid.late").status == "delivered"
    assert meta.counters(make.engine, campaign)["delivered"] == 1
    assert meta.drift(make.engine, campaign) == []
    with make.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM parked_statuses")).scalar() == 0


def test_a_batch_takes_bodies_up_to_its_byte_budget(client, make):
    """Bodies reach 3 MB, so a batch stops at its byte budget (but always takes one)."""
    for n in range(3):
        meta.post(client, meta.statuses_body(PHONE, meta.status(f"wamid.{n}", "sent", 1700000000 + n)))
    sizes = []
    with session_scope() as session:
        while (report := drain_batch(session, max_bytes=1)) is not None:
            sizes.append(report.events)
    assert sizes == [1, 1, 1]


def _history(rng: random.Random, count: int) -> list[dict]:
    """Statuses for messages wamid.m-0..count-1: sent, maybe failed, delivered, read, with
    duplicates, shuffled."""
    statuses = []
    for n in range(count):
        wamid, base = f"wamid.m-{n}", 1700000000 + n * 10
        statuses += [meta.status(wamid, "sent", base), meta.status(wamid, "delivered", base + 2)]
        if n % 3 == 0:
            statuses.append(meta.failed(wamid, base + 1, 131026))
        if n % 2 == 0:
            statuses.append(meta.status(wamid, "read", base + 5))
    statuses += rng.sample(statuses, len(statuses) // 3)
    rng.shuffle(statuses)
    return statuses


def _post_in_small_bodies(client, statuses: list[dict], rng: random.Random) -> int:
    """Post in bodies of 1 to 3 statuses; return how many distinct bodies were posted."""
    bodies = set()
    while statuses:
        take = rng.randint(1, 3)
        body, statuses = meta.encode(meta.statuses_body(PHONE, *statuses[:take])), statuses[take:]
        assert meta.post(client, body).status_code == 200
        bodies.add(body)
    return len(bodies)


def _final_states(make, shop) -> list[tuple]:
    with make.engine.connect() as connection:
        return connection.execute(
            text(
                "SELECT wamid, status, sent_at, delivered_at, read_at, failed_at, error_code"
                " FROM messages WHERE shop_id = :shop ORDER BY wamid"
            ),
            {"shop": shop.id},
        ).all()


def test_two_drains_at_once_apply_every_event_once(client, make, shop, campaign, monkeypatch):
    """Two workers draining the same inbox concurrently, in small batches over the same
    messages: each event is applied exactly once and the counters stay exact."""
    _messages(make, shop, campaign, 60)
    rng = random.Random(7)
    posts = _post_in_small_bodies(client, _history(rng, 60), rng)
    monkeypatch.setattr(drain_module, "BATCH_EVENTS", 7)
    start = threading.Barrier(2)
    errors = []

    def work():
        start.wait()
        try:
            meta.drain()
        except Exception as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    rows = meta.inbox_rows(make.engine)
    assert len(rows) == posts
    assert {(row.outcome, row.attempts) for row in rows} == {("applied", 1)}
    assert meta.counters(make.engine, campaign) == {
        "messages": 60,
        "sent": 60,
        "delivered": 60,
        "read": 30,
        "failed": 0,
        "clicked": 0,
    }
    assert meta.drift(make.engine, campaign) == []
    states = _final_states(make, shop)
    assert {s.status for s in states} == {"delivered", "read"}
    assert all(s.delivered_at is not None and s.sent_at is not None for s in states)
    assert sum(s.error_code == "131026" for s in states) == 20


def _activity(connection) -> tuple[str, str]:
    """The sessions of the whole server and this session's id in it: on Citus a statement waits
    on the worker holding the shard, and the cluster-wide view holds that worker's sessions."""
    if connection.execute(text("SELECT 1 FROM pg_extension WHERE extname = 'citus'")).scalar():
        return "citus_stat_activity", "global_pid <> citus_backend_gpid()"
    return "pg_stat_activity", "pid <> pg_backend_pid()"


def _waiting_on_campaign_lock(make) -> bool:
    with make.engine.connect() as connection:
        view, _ = _activity(connection)
        return bool(
            connection.execute(
                text(
                    f"SELECT count(*) FROM {view} WHERE datname = current_database()"
                    # a shard's statement names its table "public.campaigns_<shard id>"
                    " AND wait_event_type = 'Lock' AND query ~ 'UPDATE (public\\.)?campaigns'"
                )
            ).scalar()
        )


def _backends_of_others(make) -> int:
    with make.engine.connect() as connection:
        view, not_mine = _activity(connection)
        return connection.execute(
            text(
                f"SELECT count(*) FROM {view} WHERE datname = current_database()"
                f" AND {not_mine} AND backend_type = 'client backend' AND state <> 'idle'"
            )
        ).scalar()


def test_a_worker_killed_mid_batch_loses_nothing_and_counts_nothing_twice(
    client, make, shop, campaign, run_jobs
):
    """A real worker is killed (SIGKILL) after updating messages but before its batch commits:
    nothing of the batch shows, the events stay waiting, and the next drain applies each once."""
    _messages(make, shop, campaign, 20)
    for n in range(20):
        meta.post(client, meta.statuses_body(PHONE, meta.status(f"wamid.m-{n}", "read", 1700000000 + n)))
    holder = make.engine.connect()
    holder.execute(
        text("SELECT id FROM campaigns WHERE shop_id = :shop_id AND id = :id FOR UPDATE"),
        {"shop_id": shop.id, "id": campaign.id},
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "jobs.worker", "--burst"],
        cwd=ROOT,
        env=os.environ.copy(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for(lambda: _waiting_on_campaign_lock(make), 60, "the worker to wait on the campaign lock")
    finally:
        # RQ's work horse runs the job in a session of its own: kill it by pid, then the worker.
        for process in psutil.Process(worker.pid).children(recursive=True):
            process.kill()
        worker.kill()
        worker.wait()
        holder.rollback()
        holder.close()
    wait_for(lambda: _backends_of_others(make) == 0, 60, "the dead worker's transaction to go")
    assert {row.processed_at for row in meta.inbox_rows(make.engine)} == {None}
    assert meta.counters(make.engine, campaign)["read"] == 0
    assert {s.status for s in _final_states(make, shop)} == {"accepted"}
    # The dead drain still holds the pending flag (until it expires), so no POST queues a
    # drain: the sweeper does, for events left waiting longer than a drain takes.
    with make.engine.begin() as connection:
        connection.execute(text("UPDATE inbox_events SET received_at = now() - interval '1 minute'"))
    assert sweep_meta_inbox()["requeued"]
    run_jobs()
    assert {(row.outcome, row.attempts) for row in meta.inbox_rows(make.engine)} == {("applied", 1)}
    assert meta.counters(make.engine, campaign)["read"] == 20
    assert meta.drift(make.engine, campaign) == []


@pytest.fixture
def poison_trigger(make):
    """Make PostgreSQL refuse any change to the message 'wamid.poison' (a body we cannot apply)."""
    with make.engine.begin() as connection:
        # Citus refuses triggers on distributed tables unless told they are safe: this one only
        # raises (a placeholder setting on a PostgreSQL without Citus).
        connection.execute(text("SET LOCAL citus.enable_unsafe_triggers TO on"))
        connection.execute(
            text(
                "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'refused for the test'; END $$"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER refuse_poison BEFORE UPDATE ON messages FOR EACH ROW"
                " WHEN (OLD.wamid = 'wamid.poison') EXECUTE FUNCTION refuse_poison()"
            )
        )
    yield
    with make.engine.begin() as connection:
        connection.execute(text("SET LOCAL citus.enable_unsafe_triggers TO on"))
        connection.execute(text("DROP TRIGGER refuse_poison ON messages"))
    # Apart: Citus drops a function only in a transaction that used one connection per node.
    with make.engine.begin() as connection:
        connection.execute(text("DROP FUNCTION refuse_poison()"))


@pytest.mark.usefixtures("poison_trigger")
def test_a_body_that_cannot_be_applied_is_set_aside_and_blocks_nothing(client, make, shop, campaign):
    """The rest of its batch applies; it is retried, then kept aside as failed with its error."""
    make.message(campaign, make.customer(shop), wamid="wamid.poison", status="accepted")
    _messages(make, shop, campaign, 2)
    meta.post(client, meta.statuses_body(PHONE, meta.status("wamid.m-0", "delivered", 1700000000)))
    meta.post(client, meta.statuses_body(PHONE, meta.status("wamid.poison", "delivered", 1700000001)))
    meta.post(client, meta.statuses_body(PHONE, meta.status("wamid.m-1", "delivered", 1700000002)))
    meta.drain()
    rows = meta.inbox_rows(make.engine)
    assert [(r.outcome, r.attempts) for r in rows] == [("applied", 1), (None, 1), ("applied", 1)]
    assert rows[1].last_error == "RaiseException: refused for the test"
    for attempt in range(2, MAX_ATTEMPTS + 1):  # each later drain (the sweeper queues them) retries once
        meta.drain()
        assert meta.inbox_rows(make.engine)[1].attempts == attempt
    poisoned = meta.inbox_rows(make.engine)[1]
    assert (poisoned.outcome, poisoned.attempts, poisoned.processed_at is not None) == (
        "failed",
        MAX_ATTEMPTS,
        True,
    )
    assert meta.counters(make.engine, campaign)["delivered"] == 2
    assert meta.drift(make.engine, campaign) == []


def test_the_first_failure_keeps_its_error(client, make, shop, campaign):
    """Of several failures the first in Meta's clock keeps its code, title, details and href;
    within one second the one stored first stays."""
    _messages(make, shop, campaign, 1)
    steps = [
        (meta.failed("wamid.m-0", 1700000100, 131049, "Held back", "first", href="/a"), "131049"),
        (meta.failed("wamid.m-0", 1700000100, 131026, "Undeliverable", "same second"), "131049"),
        (meta.failed("wamid.m-0", 1700000200, 131000, "Unknown", "later"), "131049"),
        (meta.failed("wamid.m-0", 1700000050, 131026, "Undeliverable", "earlier", href="/b"), "131026"),
    ]
    for status, kept in steps:
        meta.post(client, meta.statuses_body(PHONE, status))
        meta.drain()
        assert meta.message(make.engine, shop.id, "wamid.m-0").error_code == kept
    m = meta.message(make.engine, shop.id, "wamid.m-0")
    assert (m.error_title, m.error_details, m.error_href, meta.ts(m.failed_at)) == (
        "Undeliverable",
        "earlier",
        "/b",
        "1700000050",
    )
    assert meta.counters(make.engine, campaign)["failed"] == 1


def test_an_expired_message_is_upgraded_by_a_late_delivery_but_not_by_a_late_sent(
    client, make, shop, campaign
):
    """Expired counts as failed; a late sent leaves it expired, a late delivered wins and moves
    the counters from failed to delivered."""
    make.message(
        campaign, make.customer(shop), wamid="wamid.old", status="expired", error_code="MESSAGE_EXPIRED"
    )
    make.recount(campaign)
    assert meta.counters(make.engine, campaign)["failed"] == 1
    meta.post(client, meta.statuses_body(PHONE, meta.status("wamid.old", "sent", 1700000000)))
    meta.drain()
    assert meta.message(make.engine, shop.id, "wamid.old").status == "expired"
    meta.post(client, meta.statuses_body(PHONE, meta.status("wamid.old", "delivered", 1700000100)))
    meta.drain()
    assert meta.message(make.engine, shop.id, "wamid.old").status == "delivered"
    assert (
        meta.counters(make.engine, campaign)["failed"],
        meta.counters(make.engine, campaign)["delivered"],
    ) == (0, 1)
    assert meta.drift(make.engine, campaign) == []
