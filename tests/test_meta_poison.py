"""A poison body in the Meta drain: NUL characters are harmless, a failed batch is split by
halves (not retried one event at a time), and every valid item of a bad body still applies."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from core.db import session_scope
from core.meta_webhooks.drain import drain_batch
from core.models import ParkedStatus
from tests import meta, test_meta_drain
from tests.test_meta_drain import PHONE, _messages

poison_trigger = test_meta_drain.poison_trigger  # the fixture, shared


@pytest.fixture
def shop(make):
    return make.shop(meta_phone_number_id=PHONE)


@pytest.fixture
def campaign(make, shop):
    return make.campaign(shop, "Autumn sale")


def _parked(make) -> list[dict]:
    with Session(make.engine) as session:
        return list(session.scalars(select(ParkedStatus.status)))


def test_a_nul_character_in_a_parked_status_is_harmless(client, make, shop, campaign):
    """A signed body whose status must be parked carries \\u0000: its valid statuses apply, the
    parked one is kept (NUL made harmless) and the body is applied, not retried."""
    _messages(make, shop, campaign, 1)
    unknown = meta.status("wamid.not-yet\u0000", "sent", 1_700_000_001, recipient_id="3461\u00002")
    unknown["pricing"] = {"category": "marketing\u0000", "billable": True}
    body = meta.statuses_body(PHONE, meta.status("wamid.m-0", "delivered", 1_700_000_000), unknown)
    assert meta.post(client, body).status_code == 200
    meta.drain()
    rows = meta.inbox_rows(make.engine)
    assert [(r.outcome, r.last_error) for r in rows] == [("applied", None)]
    assert meta.counters(make.engine, campaign)["delivered"] == 1
    parked = _parked(make)
    assert len(parked) == 1 and "\x00" not in str(parked[0])


def test_every_valid_item_of_a_bad_body_applies(client, make, shop, campaign, poison_trigger):
    """One body with a status the database refuses and two good ones: the good ones count, the
    body is marked partly applied with the refusal noted, and nothing is retried."""
    make.message(campaign, make.customer(shop), wamid="wamid.poison", status="accepted")
    _messages(make, shop, campaign, 2)
    body = meta.statuses_body(
        PHONE,
        meta.status("wamid.m-0", "delivered", 1_700_000_000),
        meta.status("wamid.poison", "delivered", 1_700_000_001),
        meta.status("wamid.m-1", "read", 1_700_000_002),
    )
    meta.post(client, body)
    meta.drain()
    counters = meta.counters(make.engine, campaign)
    assert (counters["delivered"], counters["read"]) == (2, 1)
    row = meta.inbox_rows(make.engine)[0]
    assert row.outcome == "partly_applied" and row.processed_at is not None
    assert "refused for the test" in row.last_error
    assert meta.drift(make.engine, campaign) == []


def test_a_failed_batch_is_split_by_halves(client, make, shop, campaign, poison_trigger):
    """One poison body among 64: the other 63 apply in the same batch, found by halving the
    batch (a handful of tries), not by applying the 64 bodies one at a time."""
    make.message(campaign, make.customer(shop), wamid="wamid.poison", status="accepted")
    _messages(make, shop, campaign, 63)
    for n in range(63):
        meta.post(
            client, meta.statuses_body(PHONE, meta.status(f"wamid.m-{n}", "delivered", 1_700_000_000 + n))
        )
        if n == 20:
            meta.post(
                client, meta.statuses_body(PHONE, meta.status("wamid.poison", "delivered", 1_700_000_500))
            )
    with session_scope() as session:
        report = drain_batch(session)
    assert report.events == 64 and len(report.failed_ids) == 1
    assert report.tries <= 2 * 6 + 1  # log2(64) levels, two halves each, plus the whole batch
    assert meta.counters(make.engine, campaign)["delivered"] == 63
    with make.engine.connect() as connection:
        waiting = connection.execute(text("SELECT count(*) FROM inbox_events WHERE processed_at IS NULL"))
        assert waiting.scalar() == 1
    with Session(make.engine) as session:
        assert session.scalar(select(func.count()).select_from(ParkedStatus)) == 0
