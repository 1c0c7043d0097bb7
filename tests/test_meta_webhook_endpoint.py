"""`/webhooks/meta`: the handshake, the signature, size limit, durable storage before the 200,
and exactly one drain pending however many POSTs arrive."""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from rq.registry import ScheduledJobRegistry
from sqlalchemy import text

from core.meta_webhooks.signature import HEADER, sign
from core.redis import get_redis
from core.settings import load_settings
from jobs import drain_flag, webhooks
from jobs.periodic import PERIODIC_JOBS, schedule_next
from jobs.queues import WEBHOOKS, queue
from jobs.webhooks import DRAIN_PENDING_KEY, drain_meta_inbox
from tests import meta
from tests.browser import serve
from tests.waiting import wait_for

PHONE = "1234567890"


@pytest.fixture
def campaign(make):
    shop = make.shop(meta_phone_number_id=PHONE)
    campaign = make.campaign(shop, "Cyber Monday")
    for n in range(3):
        make.message(campaign, make.customer(shop), wamid=f"wamid.cm-{n}", status="accepted")
    make.recount(campaign)
    return campaign


@pytest.fixture
def other_app(service_urls):
    """An app built with some settings overridden (for its own requests only)."""
    from web import create_app

    def build(**overrides):
        return create_app({"APP_ENV": "test", "TESTING": True, **overrides})

    return build


def _verify(client, **params):
    query = {
        "hub.mode": "subscribe",
        "hub.challenge": "1158201444",
        "hub.verify_token": "dev-meta-verify-token",
    }
    query.update(params)
    return client.get(meta.URL, query_string={k: v for k, v in query.items() if v is not None})


def test_handshake_echoes_the_challenge(client):
    """Subscribe mode with our verify token answers 200 with the raw challenge as the body."""
    response = _verify(client)
    assert response.status_code == 200
    assert response.get_data() == b"1158201444"


@pytest.mark.parametrize(
    "params",
    [{"hub.verify_token": "guess"}, {"hub.mode": "unsubscribe"}, {"hub.challenge": None}, {"hub.mode": None}],
)
def test_handshake_refuses_anything_else(client, params):
    """A wrong token, another mode or a missing challenge gets 403 and no echo."""
    response = _verify(client, **params)
    assert response.status_code == 403
    assert b"1158201444" not in response.get_data()


def test_an_empty_verify_token_never_verifies(app):
    """With an empty configured token, an empty hub.verify_token does not pass."""
    app.config["SETTINGS"] = dataclasses.replace(app.config["SETTINGS"], meta_verify_token="")
    response = _verify(app.test_client(), **{"hub.verify_token": ""})
    assert response.status_code == 403


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha1=" + "0" * 40,
        sign("another-apps-secret", meta.encode(meta.statuses_body(PHONE, meta.status("w", "sent", 1)))),
        "sha256=" + "ä" * 64,
    ],
)
def test_a_missing_or_wrong_signature_gets_401_and_stores_nothing(client, make, header):
    """Only the HMAC-SHA256 of the raw body with our app secret is accepted."""
    raw = meta.encode(meta.statuses_body(PHONE, meta.status("w", "sent", 1)))
    headers = {HEADER: header} if header is not None else {}
    response = client.post(meta.URL, data=raw, headers=headers)
    assert response.status_code == 401
    assert meta.inbox_rows(make.engine) == []


def test_a_body_signed_after_tampering_is_refused(client, make):
    """A signature is over the exact bytes: one changed byte fails it."""
    raw = meta.encode(meta.statuses_body(PHONE, meta.status("wamid.cm-0", "read", 1)))
    signature = sign(load_settings().meta_app_secret, raw)
    response = client.post(meta.URL, data=raw.replace(b"read", b"sent"), headers={HEADER: signature})
    assert response.status_code == 401
    assert meta.inbox_rows(make.engine) == []


def test_a_signed_body_is_stored_and_acknowledged_with_exactly_200(client, make, campaign):
    """The acknowledgement is exactly 200, and only once the raw body is in the inbox."""
    raw = meta.encode(meta.statuses_body(PHONE, meta.status("wamid.cm-0", "delivered", 1700000000)))
    response = meta.post(client, raw)
    assert response.status_code == 200
    with make.engine.connect() as connection:
        stored = connection.execute(text("SELECT source, body, processed_at FROM inbox_events")).one()
    assert (stored.source, bytes(stored.body), stored.processed_at) == ("meta", raw, None)


def test_bodies_over_3_mb_get_413_and_are_not_stored(client, make):
    """Meta's bodies are at most 3 MB: a bigger one, even correctly signed, is refused."""
    raw = b'{"object": "whatsapp_business_account", "pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    response = meta.post(client, raw)
    assert response.status_code == 413
    assert meta.inbox_rows(make.engine) == []


def test_a_body_of_exactly_3_mb_is_accepted(client, make):
    """The limit itself is allowed: no body Meta may send is refused."""
    head = b'{"object": "whatsapp_business_account", "pad": "'
    raw = head + b"x" * (3 * 1024 * 1024 - len(head) - 2) + b'"}'
    assert len(raw) == 3 * 1024 * 1024
    assert meta.post(client, raw).status_code == 200
    assert len(meta.inbox_rows(make.engine)) == 1


def test_useless_bodies_are_kept_marked_and_acknowledged(client, make):
    """Bodies that are not JSON, not WhatsApp's or hold nothing we use still get 200; the drain
    keeps them and marks why."""
    bodies = {
        b"not json at all": "not_json",
        b'{"object": "page", "entry": []}': "not_whatsapp",
        meta.encode(meta.envelope([meta.change(PHONE, messages=[])])): "nothing_used",
    }
    for raw in bodies:
        assert meta.post(client, raw).status_code == 200
    meta.drain()
    rows = meta.inbox_rows(make.engine)
    assert [row.outcome for row in rows] == list(bodies.values())
    assert all(row.processed_at is not None for row in rows)


def test_an_identical_redelivery_is_one_inbox_row(client, make, campaign):
    """Meta's duplicates of the same bytes are stored once and both acknowledged."""
    raw = meta.encode(meta.statuses_body(PHONE, meta.status("wamid.cm-0", "delivered", 1700000000)))
    assert [meta.post(client, raw).status_code for _ in range(3)] == [200, 200, 200]
    assert len(meta.inbox_rows(make.engine)) == 1


def test_many_posts_leave_one_drain_pending_which_applies_them_all(client, make, campaign, run_jobs):
    """Ten POSTs queue one drain job, not ten; a real worker runs it and every status counts."""
    for n in range(10):
        body = meta.statuses_body(PHONE, meta.status(f"wamid.cm-{n % 3}", "delivered", 1700000000 + n))
        assert meta.post(client, body).status_code == 200
    assert queue(WEBHOOKS).count == 1
    run_jobs()
    assert meta.counters(make.engine, campaign)["delivered"] == 3
    assert all(row.outcome == "applied" for row in meta.inbox_rows(make.engine))
    meta.post(client, meta.statuses_body(PHONE, meta.status("wamid.cm-0", "read", 1700000100)))
    assert queue(WEBHOOKS).count == 1  # the next body queues the next drain
    run_jobs()
    assert meta.counters(make.engine, campaign)["read"] == 1
    assert meta.drift(make.engine, campaign) == []


def test_a_working_drain_applies_bodies_stored_meanwhile_and_no_other_drain_is_queued(client, make, campaign):
    """While a drain works (here: watches the empty inbox) it holds the pending flag, so a POST
    queues no other drain, and that same drain applies the body before it lets go."""
    result: dict = {}
    drainer = threading.Thread(target=lambda: result.update(drain_meta_inbox(linger_s=2.0)))
    drainer.start()
    try:
        wait_for(lambda: get_redis().exists(DRAIN_PENDING_KEY), 30, "the drain to take the pending flag")
        body = meta.statuses_body(PHONE, meta.status("wamid.cm-2", "read", 1700000000))
        assert meta.post(client, body).status_code == 200
        assert queue(WEBHOOKS).count == 0
    finally:
        drainer.join()
    assert result["statuses"] == 1
    assert meta.counters(make.engine, campaign)["read"] == 1
    assert not get_redis().exists(DRAIN_PENDING_KEY)  # let go: the next body queues a drain


def test_a_body_posted_on_the_drains_promise_costs_no_redis_call_and_that_drain_applies_it(
    client, make, campaign, monkeypatch
):
    """A web process that read the flag's deadline skips Redis until then: a body it stores
    after the drain let go of the flag sets no flag and queues no drain, and the drain, which
    keeps its promise before its last look, applies it."""
    monkeypatch.setattr(webhooks, "PROMISE_S", 3.0)  # room for this test's steps on a busy machine
    first = meta.statuses_body(PHONE, meta.status("wamid.cm-0", "delivered", 1700000000))
    assert meta.post(client, first).status_code == 200
    assert queue(WEBHOOKS).count == 1
    result: dict = {}
    drainer = threading.Thread(target=lambda: result.update(drain_meta_inbox(linger_s=0)))
    drainer.start()
    try:
        wait_for(lambda: not get_redis().exists(DRAIN_PENDING_KEY), 30, "the drain to let go of the flag")
        second = meta.statuses_body(PHONE, meta.status("wamid.cm-1", "delivered", 1700000001))
        assert meta.post(client, second).status_code == 200
        assert queue(WEBHOOKS).count == 1  # had it asked Redis, it would have found no flag: a drain queued
    finally:
        drainer.join()
    assert result["statuses"] == 2
    assert meta.counters(make.engine, campaign)["delivered"] == 2


def test_a_flag_deadline_is_never_moved_earlier(service_urls):
    """Whoever writes the deadline last, the flag keeps the latest one promised, and taking the
    flag away answers it: a drain waits for the latest promise any web process relies on."""
    redis = get_redis()
    created, later = drain_flag.mark_pending(redis, 5.0)
    assert created
    again, held = drain_flag.mark_pending(redis, 0.0, restart_ttl=True)
    assert (again, held) == (False, later)
    assert drain_flag.release(redis) == later
    assert not redis.exists(DRAIN_PENDING_KEY)


def test_a_chunked_body_is_checked_and_stored_like_any_other(app, make):
    """No Content-Length (sent chunked, over a real HTTP server): the same signature check, the
    same store before the 200."""
    raw = meta.encode(meta.statuses_body(PHONE, meta.status("wamid.cm-0", "delivered", 1700000000)))
    signature = sign(load_settings().meta_app_secret, raw)
    with serve(app) as base:
        assert _post_chunked(base, raw, signature).status_code == 200
        assert _post_chunked(base, raw + b" ", signature).status_code == 401
    with make.engine.connect() as connection:
        assert [bytes(row.body) for row in connection.execute(text("SELECT body FROM inbox_events"))] == [raw]


def test_a_chunked_body_over_3_mb_gets_413(app, make):
    """The size limit holds without a declared length too."""
    raw = b'{"pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    with serve(app) as base:
        assert _post_chunked(base, raw, sign(load_settings().meta_app_secret, raw)).status_code == 413
    assert meta.inbox_rows(make.engine) == []


def test_a_body_whose_end_the_server_cannot_tell_gets_411(client, make):
    """No Content-Length from a WSGI server that does not mark where the body ends: nothing can
    be read safely, so the sender is told to declare the length."""
    raw = meta.encode(meta.statuses_body(PHONE, meta.status("wamid.cm-0", "delivered", 1700000000)))
    response = client.post(
        meta.URL,
        data=raw,
        headers={HEADER: sign(load_settings().meta_app_secret, raw)},
        environ_overrides={"CONTENT_LENGTH": "", "wsgi.input_terminated": False},
    )
    assert response.status_code == 411
    assert meta.inbox_rows(make.engine) == []


def _post_chunked(base: str, raw: bytes, signature: str) -> requests.Response:
    pieces = (raw[i : i + 64 * 1024] for i in range(0, len(raw), 64 * 1024))  # a generator: chunked
    return _post(base, pieces, signature)


def _post(base: str, data, signature: str) -> requests.Response:
    headers = {HEADER: signature, "Content-Type": "application/json"}
    return requests.post(base + meta.URL, data=data, headers=headers, timeout=30)


def test_concurrent_posts_are_all_answered_and_each_body_is_one_row(app, make):
    """Sixteen senders at once over HTTP, so the requests share batches (core/inbox/writer.py):
    every POST gets its 200 (no request is left waiting), every distinct body is one inbox row,
    and a body posted twice at the same moment is still one row."""
    secret = load_settings().meta_app_secret
    raws = [
        meta.encode(meta.statuses_body(PHONE, meta.status(f"wamid.c-{n}", "sent", 1700000000 + n)))
        for n in range(150)
    ]
    sends = raws + raws[:30]  # thirty redeliveries, racing their originals
    with serve(app) as base, ThreadPoolExecutor(16) as senders:
        answers = list(senders.map(lambda raw: _post(base, raw, sign(secret, raw)).status_code, sends))
    assert answers == [200] * len(sends)
    with make.engine.connect() as connection:
        stored = [bytes(row.body) for row in connection.execute(text("SELECT body FROM inbox_events"))]
    assert sorted(stored) == sorted(raws)


def test_database_down_answers_503_so_meta_retries(other_app):
    """When the body cannot be stored it is not acknowledged."""
    app = other_app(DATABASE_URL="postgresql://postgres@127.0.0.1:1/nowhere")
    response = meta.post(app.test_client(), meta.statuses_body(PHONE, meta.status("w", "sent", 1)))
    assert response.status_code == 503


def test_redis_down_still_acknowledges_and_the_sweeper_queues_the_drain(other_app, make, campaign, run_jobs):
    """With Redis unreachable the body is stored and acknowledged; the periodic sweeper later
    queues a drain for it, and a real worker applies it."""
    app = other_app(REDIS_URL="redis://127.0.0.1:1/0")
    body = meta.statuses_body(PHONE, meta.status("wamid.cm-1", "read", 1700000000))
    assert meta.post(app.test_client(), body).status_code == 200
    # The worker below reads the environment's settings: Redis is back.
    assert queue(WEBHOOKS).count == 0
    with make.engine.begin() as connection:  # the body has waited longer than a drain takes
        connection.execute(text("UPDATE inbox_events SET received_at = now() - interval '1 minute'"))
    sweep = next(job for job in PERIODIC_JOBS if job.name == "meta-inbox-sweep")
    schedule_next(sweep, after=0)  # a slot long past: due now
    run_jobs()
    assert meta.counters(make.engine, campaign)["read"] == 1
    assert meta.inbox_rows(make.engine)[0].outcome == "applied"


def test_the_worker_schedules_the_sweeper_once_per_slot(make, run_jobs):
    """Starting workers schedules the next sweep with a stable id; a second start adds nothing."""
    run_jobs()
    run_jobs()
    ids = ScheduledJobRegistry(queue=queue(WEBHOOKS)).get_job_ids()
    assert len([i for i in ids if i.startswith("periodic-meta-inbox-sweep-")]) == 1
