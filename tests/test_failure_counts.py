"""The kept failure breakdown (core/counts/failures.py) and an A/B campaign's kept variant funnels
(core/counts/variants.py): whatever dispatch answers and whatever Meta's webhooks say, in any
order, the rows equal the GROUP BY of the messages; and the recount finds a drifted row and sets
it right."""

from __future__ import annotations

import importlib.util
import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.campaigns.monitor import monitor_campaign
from core.counts.recount import recount
from core.dispatch.claim import CampaignTemplate, claim_batch
from core.dispatch.record import Outcome, record_outcomes
from core.models import Campaign, Message
from core.whatsapp.callback import callback_for
from core.whatsapp.send import SendResult
from tests import meta
from tests.tokens import bearer

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

_shops = itertools.count(1)

_GROUP_BY = text("""
    SELECT campaign_id, COALESCE(error_code, 'MESSAGE_EXPIRED') AS code, wamid IS NOT NULL AS accepted,
           count(*) AS messages
      FROM messages WHERE shop_id = :shop_id AND status IN ('failed', 'expired')
     GROUP BY 1, 2, 3
""")
_KEPT = text("""
    SELECT campaign_id, code, accepted, messages FROM campaign_failure_counts
     WHERE shop_id = :shop_id AND messages <> 0
""")
# The variants' funnel as the page defined it before it was kept: a scan of the messages.
_VARIANT_SCAN = text("""
    SELECT variant_id, count(*) AS messages, count(wamid) AS sent,
           count(*) FILTER (WHERE delivered_at IS NOT NULL OR read_at IS NOT NULL) AS delivered,
           count(read_at) AS read, count(*) FILTER (WHERE status IN ('failed', 'expired')) AS failed,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM clicks k
                                           WHERE k.shop_id = m.shop_id AND k.message_id = m.id)) AS clicked
      FROM messages m WHERE shop_id = :shop_id AND variant_id IS NOT NULL
     GROUP BY 1
""")
_VARIANT_KEPT = text("""
    SELECT variant_id, messages, sent, delivered, read, failed, clicked FROM campaign_variant_counts
     WHERE shop_id = :shop_id AND (messages, sent, delivered, read, failed, clicked) <> (0, 0, 0, 0, 0, 0)
""")
VARIANTS = [
    {"id": n, "name": name, "share": 50, "template": {"name": "offer", "language": "en"}}
    for n, name in ((1, "A"), (2, "B"))
]

# A recipient as we hold them: one dispatch sends to, one without a calling code, one opted out.
recipient = st.sampled_from(["ok", "ok", "no_calling_code", "opted_out"])
# What Meta answers a send: accepted, held, refused for this recipient, refused for the whole
# template (the campaign halts), a transient refusal (requeued), or no answer at all.
answer = st.sampled_from(["accepted", "held", "131026", "131049", "132001", "130429", "unknown"])
step = st.one_of(
    st.tuples(st.just("claim"), st.integers(1, 3)),
    st.tuples(st.just("answer"), st.integers(0, 4), answer),
    st.tuples(
        st.just("webhook"),
        st.integers(0, 4),
        st.sampled_from(["sent", "delivered", "read", "failed", "failed"]),
        st.sampled_from([131026, 131049, 131047]),
    ),
    st.tuples(st.just("monitor")),
    st.tuples(st.just("click"), st.integers(0, 4), st.integers(0, 1)),  # a quick reply, maybe again
)


def _world(make, recipients: list[str], variants: bool = False) -> tuple[str, Campaign, list[int]]:
    """A campaign of these recipients; with ``variants``, an A/B campaign whose messages go to
    variants 1 and 2 in turn."""
    n = next(_shops)
    phone = f"78{n:08d}"
    shop = make.shop(f"failures-{n}.myshopify.com", meta_phone_number_id=phone, credits=1000)
    started = datetime.now(UTC) - timedelta(minutes=5)
    campaign = make.campaign(
        shop,
        f"Failures {n}",
        dispatch_started_at=started,
        launched_at=started,
        variants=VARIANTS if variants else [],
        experiment_metric="read_rate" if variants else None,
    )
    ids = []
    for i, kind in enumerate(recipients):
        number = f"61{n:04d}{i:03d}" if kind == "no_calling_code" else f"+3461{n:04d}{i:03d}"
        consent = "UNSUBSCRIBED" if kind == "opted_out" else "SUBSCRIBED"
        customer = make.customer(shop, phone=number, phone_e164=None, country_code="ES", consent=consent)
        variant = 1 + i % 2 if variants else None
        ids.append(make.message(campaign, customer, status="queued", variant_id=variant).id)
    make.recount(campaign)
    return phone, campaign, ids


def _claim(make, campaign: Campaign, limit: int) -> None:
    template = CampaignTemplate(campaign.shop_id, campaign.id, campaign.template_name, "en", [])
    with Session(make.engine) as session, session.begin():
        claim_batch(session, template, limit)


def _message(make, campaign: Campaign, message_id: int) -> Message:
    with Session(make.engine) as session:
        return session.scalars(
            select(Message).where(Message.shop_id == campaign.shop_id, Message.id == message_id)
        ).one()


def _wamid(campaign: Campaign, message_id: int) -> str:
    """The wamid Meta gives this message, whichever of its answer and a webhook comes first."""
    return f"wamid.failures-{campaign.shop_id}-{message_id}"


def _answer(make, campaign: Campaign, message: Message, what: str, answered: set) -> None:
    """Record Meta's answer to a send handed to it and not answered yet (however late: the
    monitor may have given up on it meanwhile)."""
    send = (message.id, message.send_attempts)
    if message.submitted_at is None or message.wamid is not None or send in answered:
        return
    answered.add(send)
    if what in ("accepted", "held"):
        status = "held_for_quality_assessment" if what == "held" else "accepted"
        result = SendResult("accepted", _wamid(campaign, message.id), status, "34600000000")
    elif what == "unknown":
        result = SendResult("unknown")
    else:
        result = SendResult("error", code=what, title=f"Error {what}")
    outcome = Outcome(message.id, message.send_attempts, result)
    with Session(make.engine) as session, session.begin():
        record_outcomes(session, campaign.shop_id, campaign.id, [outcome])


def _webhook(client, phone: str, campaign: Campaign, message: Message, name: str, code: int, at: int) -> None:
    """Meta reports a status of a message it was handed (by our signed id while its wamid is not
    stored), to the number it was sent to."""
    if message.submitted_at is None and message.wamid is None:
        return
    wamid = message.wamid or _wamid(campaign, message.id)
    extra = {"recipient_id": message.phone.lstrip("+")}
    if message.wamid is None:
        extra["biz_opaque_callback_data"] = callback_for(campaign.shop_id, message.id)
    if name == "failed":
        item = meta.failed(wamid, at, code, title=f"Error {code}", **extra)
    else:
        item = meta.status(wamid, name, at, **extra)
    assert meta.post(client, meta.statuses_body(phone, item)).status_code == 200
    meta.drain()


def _click(client, phone: str, message: Message, reply: int, at: int) -> None:
    """The customer taps a quick reply of a message Meta took (a second tap of the same reply is
    Meta redelivering it)."""
    if message.wamid is None:
        return
    tap = {
        "context": {"from": "15550001111", "id": message.wamid},
        "from": message.phone.lstrip("+"),
        "id": f"wamid.reply-{message.id}-{reply}",
        "timestamp": meta.ts(at),
        "type": "button",
        "button": {"payload": "SHOP_NOW", "text": "Shop now"},
    }
    assert meta.post(client, meta.envelope([meta.change(phone, messages=[tap])])).status_code == 200
    meta.drain()


def _monitor(make, campaign: Campaign) -> None:
    """Expiry and the unconfirmed sends, as if two days had passed; no recount happens here
    (dispatch is not finished), so nothing would hide a wrong breakdown."""
    later = datetime.now(UTC) + timedelta(days=2)
    with Session(make.engine) as session, session.begin():
        result = monitor_campaign(session, campaign.shop_id, campaign.id, ttl=timedelta(days=1), now=later)
    assert not result.reconciled


def _rows(make, statement, campaign: Campaign) -> dict:
    with make.engine.connect() as connection:
        found = connection.execute(statement, {"shop_id": campaign.shop_id}).all()
    return {(r.campaign_id, r.code, r.accepted): r.messages for r in found}


def _kept_and_scanned(make, campaign: Campaign) -> list[tuple[dict, dict]]:
    """(kept, scanned) of the failure breakdown, then of the variants' funnels, read on one
    connection (a connection per read made the test twice as slow)."""
    keys = {"shop_id": campaign.shop_id}
    with make.engine.connect() as connection:
        failures = [
            {(r.campaign_id, r.code, r.accepted): r.messages for r in connection.execute(statement, keys)}
            for statement in (_KEPT, _GROUP_BY)
        ]
        variants = [
            {r[0]: tuple(r[1:]) for r in connection.execute(statement, keys)}
            for statement in (_VARIANT_KEPT, _VARIANT_SCAN)
        ]
    return [tuple(failures), tuple(variants)]


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    recipients=st.lists(recipient, min_size=1, max_size=5),
    steps=st.lists(step, min_size=1, max_size=15),
    variants=st.booleans(),
)
# A transient refusal requeues one message, a template refusal halts the campaign (failing the
# requeued one unsent), expiry and an unconfirmed send, then webhooks move both back out.
@example(
    recipients=["ok"] * 4,
    steps=[
        ("answer", 0, "130429"),
        ("answer", 1, "132001"),
        ("answer", 2, "accepted"),
        ("monitor",),
        ("webhook", 3, "delivered", 131026),
        ("webhook", 2, "failed", 131049),
        ("click", 2, 0),
        ("click", 2, 0),
        ("click", 3, 1),
    ],
    variants=True,
)
# Meta's answer arrives after the monitor gave up on the send: the message stays failed, now
# with a wamid; then a failure by webhook replaces its code.
@example(
    recipients=["ok", "no_calling_code"],
    steps=[("monitor",), ("answer", 0, "accepted"), ("webhook", 0, "failed", 131049)],
    variants=True,
)
def test_the_kept_breakdown_equals_the_group_by_after_any_dispatch_and_webhooks(
    client, make, recipients, steps, variants
):
    """Claims (our pre-send refusals), Meta's send answers (accepted, refused, halting, requeued,
    unanswered, late), status webhooks by wamid or by our id (in any order, repeated), expiry and
    unconfirmed sends, quick replies (redelivered too): the kept breakdown, and an A/B campaign's
    kept variant funnels, are the GROUP BY of the messages after every step; a campaign without
    variants keeps no variant row."""
    phone, campaign, ids = _world(make, recipients, variants)
    _claim(make, campaign, len(ids))  # the first batch: later claims take what was requeued
    answered: set = set()
    for at, action in enumerate(steps, start=1_760_000_000):
        if action[0] == "claim":
            _claim(make, campaign, action[1])
        elif action[0] == "monitor":
            _monitor(make, campaign)
        else:
            message = _message(make, campaign, ids[action[1] % len(ids)])
            if action[0] == "answer":
                _answer(make, campaign, message, action[2], answered)
            elif action[0] == "click":
                if variants:  # a click moves no failure: only the variants' funnels need it
                    _click(client, phone, message, action[2], at)
            else:
                _webhook(client, phone, campaign, message, action[2], action[3], at)
        (kept_failures, failures), (kept_variants, variants) = _kept_and_scanned(make, campaign)
        assert kept_failures == failures, action
        assert kept_variants == variants, action
    assert meta.drift(make.engine, campaign) == []


def test_the_recount_finds_a_drifted_breakdown_and_sets_it_right(make):
    """A row off by some messages, a row that should not exist and a missing row: the recount
    reports the campaign as drifted and leaves exactly the GROUP BY; a second recount finds
    nothing."""
    shop = make.shop("drift.myshopify.com")
    campaign = make.campaign(shop, "Drift")
    for n in range(3):
        make.message(campaign, make.customer(shop), status="failed", wamid=f"wamid.d{n}", error_code="131026")
    make.message(
        campaign, make.customer(shop), status="failed", error_code="CUSTOMER_IS_MISSING_CALLING_CODE"
    )
    make.message(campaign, make.customer(shop), status="expired", wamid="wamid.e")
    make.recount(campaign)
    expected = _rows(make, _GROUP_BY, campaign)
    assert expected == {
        (campaign.id, "131026", True): 3,
        (campaign.id, "CUSTOMER_IS_MISSING_CALLING_CODE", False): 1,
        (campaign.id, "MESSAGE_EXPIRED", True): 1,
    }
    assert _rows(make, _KEPT, campaign) == expected
    with make.engine.begin() as connection:
        keys = {"shop_id": shop.id, "campaign_id": campaign.id}
        connection.execute(
            text(
                "UPDATE campaign_failure_counts SET messages = 7 WHERE shop_id = :shop_id AND code = '131026'"
            ),
            keys,
        )
        connection.execute(
            text("DELETE FROM campaign_failure_counts WHERE shop_id = :shop_id AND code = 'MESSAGE_EXPIRED'"),
            keys,
        )
        connection.execute(
            text(
                "INSERT INTO campaign_failure_counts (shop_id, campaign_id, code, accepted, messages)"
                " VALUES (:shop_id, :campaign_id, '131049', true, 2)"
            ),
            keys,
        )
    with Session(make.engine) as session, session.begin():
        drifts = recount(session, shop.id, [campaign.id])
    assert drifts == [
        {"campaign_id": campaign.id, "old": {"failures": "drifted"}, "new": {"failures": "rebuilt"}}
    ]
    assert _rows(make, _KEPT, campaign) == expected
    assert meta.drift(make.engine, campaign) == []


def test_calling_code_customers_count_those_fixed_since_and_not_those_deleted(client, make):
    """Three customers failed for a missing calling code: one has a valid number in Shopify by
    now (fixed), one still has not, one was deleted (no longer a customer of the campaign)."""
    shop = make.shop("demo.myshopify.com")
    campaign = make.campaign(shop, "Calling codes", status="SENT")
    fixed, unfixed, deleted = (make.customer(shop, phone=f"61200000{n}", phone_e164=None) for n in range(3))
    for customer in (fixed, unfixed, deleted):
        make.message(campaign, customer, status="failed", error_code="CUSTOMER_IS_MISSING_CALLING_CODE")
    make.message(campaign, make.customer(shop), status="failed", wamid="wamid.c", error_code="131026")
    with make.engine.begin() as connection:
        keys = {"shop_id": shop.id, "fixed": fixed.id, "deleted": deleted.id}
        connection.execute(
            text("UPDATE customers SET phone_e164 = '+34612000000' WHERE shop_id = :shop_id AND id = :fixed"),
            keys,
        )
        # As the app removes a customer (core/shopify/customers.py): its messages stay, without it.
        connection.execute(
            text(
                "UPDATE messages SET customer_id = NULL WHERE shop_id = :shop_id AND customer_id = :deleted"
            ),
            keys,
        )
        connection.execute(text("DELETE FROM customers WHERE shop_id = :shop_id AND id = :deleted"), keys)
    make.recount(campaign)
    body = client.get(f"/api/campaigns/{campaign.id}", headers=bearer()).get_json()
    assert body["missing_calling_code"] == {"customers": 2, "fixed": 1}
    codes = {e["code"]: (e["count"], e["at_submission"]) for e in body["errors"]}
    assert codes == {"CUSTOMER_IS_MISSING_CALLING_CODE": (3, 3), "131026": (1, 0)}


def _migration(name: str):
    path = Path(__file__).resolve().parent.parent / "core" / "migrations" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_migration_0029_fills_the_variant_rows_and_groups_as_the_recount_keeps_them(make):
    """The data steps of 0029_variant_counts, run over rows as they stood before it (no variant
    row, every billed group under variant 0), leave exactly what the recount keeps: each
    variant's funnel and billed groups for the A/B campaign, nothing new for the other."""
    shop = make.shop("backfill.myshopify.com")
    ab = make.campaign(shop, "AB", variants=VARIANTS, experiment_metric="read_rate")
    plain = make.campaign(shop, "Plain")
    day = datetime(2026, 11, 2, 9, tzinfo=UTC)
    states = [
        {"status": "queued"},
        {"status": "delivered", "sent_at": day, "delivered_at": day},
        {"status": "read", "sent_at": day, "delivered_at": day, "read_at": day},
        {"status": "failed", "error_code": "131026"},
        {"status": "read", "delivered_at": day, "read_at": day, "pricing_category": "marketing"},
    ]
    ab_ids = []
    for n, state in enumerate(states * 2):
        sent = {"wamid": f"wamid.bf-{n}"} if state["status"] != "queued" else {}
        ab_ids.append(make.message(ab, make.customer(shop), variant_id=1 + n % 2, **state, **sent).id)
        plain_sent = {"wamid": f"wamid.bfp-{n}"} if sent else {}
        make.message(plain, make.customer(shop), **state, **plain_sent)
    with make.engine.begin() as connection:  # two clicked messages, one of each variant
        connection.execute(_CLICK, [{"shop_id": shop.id, "id": message_id} for message_id in ab_ids[1:3]])
    make.recount(ab)
    make.recount(plain)
    keys = {"shop_id": shop.id}
    with make.engine.connect() as connection:
        expected = connection.execute(_KEPT_ROWS, keys).all()
    assert {row[2] for row in expected if row[0] == "v"} == {1, 2}
    assert sum(row[11] for row in expected if row[0] == "v") == 2
    assert {row[2] for row in expected if row[0] == "b" and row[1] == ab.id} == {1, 2}
    migration = _migration("0029_variant_counts")
    with make.engine.connect() as connection, connection.begin() as transaction:
        # As before 0029: no variant row, each billed group of the A/B campaign under variant 0.
        connection.execute(text("DELETE FROM campaign_variant_counts"))
        connection.execute(text(migration._MERGE))
        connection.execute(text("DELETE FROM campaign_billed_counts WHERE variant_id <> 0"))
        connection.execute(text(migration._FUNNEL))
        with_variants = f"(shop_id, campaign_id) IN ({migration._WITH_VARIANTS})"
        connection.execute(text(f"DELETE FROM campaign_billed_counts WHERE {with_variants}"))
        connection.execute(text(migration._BILLED))
        assert connection.execute(_KEPT_ROWS, keys).all() == expected
        transaction.rollback()


_CLICK = text(
    "INSERT INTO clicks (shop_id, message_id, kind, clicked_at) VALUES (:shop_id, :id, 'url_button', now())"
)
# The shop's kept variant rows ('v') and billed groups ('b') in one comparable list.
_KEPT_ROWS = text("""
    SELECT 'v', campaign_id, variant_id, NULL::date, '', '', messages, sent, delivered, read, failed,
           clicked
      FROM campaign_variant_counts WHERE shop_id = :shop_id
    UNION ALL
    SELECT 'b', campaign_id, variant_id, day, prefix, pricing_category, messages, 0, 0, 0, 0, 0
      FROM campaign_billed_counts WHERE shop_id = :shop_id
     ORDER BY 1, 2, 3, 4, 5, 6
""")
