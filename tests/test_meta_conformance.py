"""Conformance: every real-shape body of pywa's test data, and the twelve hard cases of
reference/whatsapp.md section 4, posted signed to `/webhooks/meta` and drained, end as expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.meta_webhooks.apply import release_parked
from core.meta_webhooks.signature import HEADER, sign
from core.models import Click, Customer, Message, MetaTemplateState, ShopAlert, WhatsAppConnection
from core.settings import load_settings
from tests import meta

FIXTURES = Path(__file__).parent / "fixtures" / "meta"
PYWA = FIXTURES / "pywa"
HARD = FIXTURES / "hard_cases"
PYWA_PHONE = "1122334455667"
PYWA_PREFERENCES_PHONE = "106540352242922"
PYWA_WABA = "102290129340398"  # the account of pywa's template and account bodies
PHONE = "1234567890"
OTHER_PHONE = "2345678901"
WAMIDS = [f"wamid.hc-batch-{n}" for n in range(1, 10)] + [
    "wamid.hc-dup-1",
    "wamid.hc-dup-2",
    "wamid.hc-read-1",
    "wamid.hc-late-1",
    "wamid.hc-fail-131049",
    "wamid.hc-fail-131026",
    "wamid.hc-fail-131050",
    "wamid.hc-fail-132015",
    "wamid.hc-multi-1",
    "wamid.hc-bsuid-1",
    "wamid.hc-href-1",
    "wamid.hc-unicode-1",
]


def _pywa_bodies() -> list[tuple[str, str]]:
    return [
        (path.stem, scenario)
        for path in sorted(PYWA.glob("*.json"))
        for scenario in json.loads(path.read_text())
    ]


def _message(make, shop, wamid: str) -> Message:
    return meta.message(make.engine, shop.id, wamid)


def _counts(make, campaign, **expected) -> None:
    """The campaign's counters are the expected ones and equal the GROUP BY of its messages."""
    got = meta.counters(make.engine, campaign)
    assert {k: got[k] for k in expected} == expected
    assert meta.drift(make.engine, campaign) == []


def _all(make, model) -> list:
    with Session(make.engine) as session:
        return list(session.scalars(select(model)))


@pytest.fixture
def pywa_world(make):
    """The shops, messages and customer the pywa bodies talk about."""
    shop = make.shop(meta_phone_number_id=PYWA_PHONE, meta_waba_id=PYWA_WABA)
    campaign = make.campaign(shop, "pywa", template_name="order_confirmation", template_language="en_US")
    make._save(
        WhatsAppConnection(
            shop_id=shop.id, waba_id=PYWA_WABA, phone_number_id=PYWA_PHONE, messages_per_second=80
        )
    )
    for wamid in ("wamid.xyzxyz", "wamid.xyzxyz=="):
        make.message(campaign, make.customer(shop), wamid=wamid, status="accepted")
    make.recount(campaign)
    other = make.shop("preferences.myshopify.com", meta_phone_number_id=PYWA_PREFERENCES_PHONE)
    make.customer(other, phone="+16505551234", phone_e164="+16505551234", consent="UNSUBSCRIBED")
    return {"shop": shop, "campaign": campaign}


def _expect_pywa(make, world, file: str, scenario: str) -> None:
    shop, campaign = world["shop"], world["campaign"]
    m = _message(make, shop, "wamid.xyzxyz")
    outcome = meta.inbox_rows(make.engine)[0].outcome
    if file == "message_status" and scenario == "group":
        assert outcome == "unknown_phone_number"  # a placeholder number: kept, ignored
        assert m.status == "accepted"
    elif file == "message_status":
        assert outcome == "applied"
        _expect_pywa_status(make, campaign, m, scenario)
    elif file == "callback_button" and scenario != "quick_reply_without_context":
        assert outcome == "applied"
        replied_to = "wamid.xyzxyz" if scenario == "button" else "wamid.xyzxyz=="
        source = "wamid.xyzxyz" if scenario == "button" else "wamid.xsidjw"
        assert [(c.message_id, c.kind, c.source_id) for c in _all(make, Click)] == [
            (_message(make, shop, replied_to).id, "quick_reply", source)
        ]
        _counts(make, campaign, clicked=1)
    elif file == "message" and scenario == "interactive_message_with_err":
        assert outcome == "applied"
        assert [(a.shop_id, a.code, a.title, a.details) for a in _all(make, ShopAlert)] == [
            (shop.id, "131000", "Something went wrong", "Unsupported webhook payload")
        ]
    elif file == "user_marketing_preferences":
        assert outcome == "applied"
        customer = _all(make, Customer)[-1]
        # "resume" brings back a customer who had stopped; "signup" is not a consent we record.
        assert customer.consent == ("SUBSCRIBED" if scenario == "resume" else "UNSUBSCRIBED")
    elif file in ("template_status_update", "template_quality_update", "account_update"):
        _expect_pywa_account(make, shop, campaign, scenario)
    else:  # inbound messages, replies without a button: nothing we use
        assert outcome == "nothing_used"
        assert _all(make, Click) == [] and _all(make, ShopAlert) == []
        assert m.status == "accepted"


# What each of pywa's account_update events means here (core/rules/account_events.py):
# a restriction on business-initiated messaging halts the sending campaign (368), a violation,
# a deletion or a disabled-account update warns, the rest is stored only.
_ACCOUNT_ALERTS = {
    "account_restriction": [("368", True), ("ACCOUNT_RESTRICTED", False)],
    "account_violation": [("ACCOUNT_NOTICE", False)],
    "account_disabled": [("ACCOUNT_NOTICE", False)],
    "account_deleted": [("ACCOUNT_NOTICE", False)],
}


def _expect_pywa_account(make, shop, campaign, scenario: str) -> None:
    """Routed by the entry's account id to the shop connected to it, applied, and alerting only
    where the event says something the merchant must act on."""
    body = json.loads((PYWA / "account_update.json").read_text()).get(scenario)
    if body and body["entry"][0]["id"] != PYWA_WABA:  # a business portfolio's event: not ours
        assert meta.inbox_rows(make.engine)[0].outcome == "unknown_account"
        assert _all(make, ShopAlert) == []
        return
    assert meta.inbox_rows(make.engine)[0].outcome == "applied"
    alerts = [(a.code, a.campaign_id == campaign.id) for a in _all(make, ShopAlert)]
    if scenario in ("approved", "rejected", "yellow"):  # stored: nothing to act on
        assert alerts == []
        state = _all(make, MetaTemplateState)[0]
        assert (state.status, state.quality) == (
            {"approved": ("APPROVED", None), "rejected": ("REJECTED", None), "yellow": (None, "YELLOW")}[
                scenario
            ]
        )
        return
    assert alerts == _ACCOUNT_ALERTS.get(scenario, [])


def _expect_pywa_status(make, campaign, m: Message, scenario: str) -> None:
    if scenario in ("sent", "with_tracker"):  # with_tracker's opaque data is not our message id
        assert (m.status, meta.ts(m.sent_at)) == ("sent", "1698266945")
        assert (m.pricing_category, m.pricing_billable, m.pricing_type) == ("service", True, None)
        assert (m.conversation_id, m.conversation_origin) == ("7270432eae37498234f4444b35ffc5", "service")
        _counts(make, campaign, sent=2, delivered=0)
    elif scenario == "delivered":
        assert (m.status, meta.ts(m.delivered_at), m.read_at) == ("delivered", "1698266945", None)
        _counts(make, campaign, delivered=1, read=0)
    elif scenario in ("read", "played"):  # played counts as read; read implies delivered
        assert (m.status, meta.ts(m.read_at), meta.ts(m.delivered_at)) == ("read", "1689380458", "1689380458")
        _counts(make, campaign, delivered=1, read=1)
    elif scenario == "failed":
        assert (m.status, meta.ts(m.failed_at)) == ("failed", "1689380458")
        assert (m.error_code, m.error_category, m.error_source) == ("130472", "delivery", "meta")
        assert m.error_title == "User's number is part of an experiment"
        assert (
            m.error_details
            == "Failed to send message because this user's phone number is part of an experiment"
        )
        assert m.error_href == "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
        _counts(make, campaign, failed=1, delivered=0)
    else:
        raise AssertionError(f"no expectation written for message_status/{scenario}")


@pytest.mark.parametrize("file, scenario", _pywa_bodies(), ids=lambda v: v)
def test_every_pywa_body_applies_as_expected(client, make, pywa_world, file, scenario):
    """Each of pywa's bodies is acknowledged with 200, stored, drained and used as it should."""
    body = json.loads((PYWA / f"{file}.json").read_text())[scenario]
    assert meta.post(client, body).status_code == 200
    meta.drain()
    _expect_pywa(make, pywa_world, file, scenario)


@pytest.fixture
def world(make):
    """A shop on PHONE with a campaign whose messages carry the hard cases' wamids (and one
    sent whose wamid is not stored yet), and a second shop on OTHER_PHONE."""
    shop = make.shop(meta_phone_number_id=PHONE)
    campaign = make.campaign(shop, "Hard cases")
    for wamid in WAMIDS:
        make.message(campaign, make.customer(shop, consent="SUBSCRIBED"), wamid=wamid, status="accepted")
    early = make.message(campaign, make.customer(shop), status="queued")
    make.recount(campaign)
    other = make.shop("other.myshopify.com", meta_phone_number_id=OTHER_PHONE)
    other_campaign = make.campaign(other, "Other shop")
    for n in range(3):
        make.message(
            other_campaign, make.customer(other), wamid=f"wamid.hc-batch-other-{n}", status="accepted"
        )
    make.recount(other_campaign)
    return {
        "shop": shop,
        "campaign": campaign,
        "early": early,
        "other": other,
        "other_campaign": other_campaign,
    }


def _post_all(client, name: str) -> None:
    for body in json.loads((HARD / f"{name}.json").read_text()):
        assert meta.post(client, body).status_code == 200
        meta.drain()


def test_hard_case_1_a_batched_body_applies_every_entry_change_and_status(client, make, world):
    """2 entries x 2 changes x 3 statuses: nothing reads only [0]; each change goes to its shop."""
    _post_all(client, "batched")
    shop = world["shop"]
    statuses = [_message(make, shop, f"wamid.hc-batch-{n}").status for n in range(1, 10)]
    assert statuses == ["delivered"] * 3 + ["read"] * 3 + ["sent"] * 3
    others = [meta.message(make.engine, world["other"].id, f"wamid.hc-batch-other-{n}") for n in range(3)]
    assert [m.status for m in others] == ["delivered"] * 3
    _counts(make, world["campaign"], delivered=6, read=3)
    _counts(make, world["other_campaign"], delivered=3)


def test_hard_case_2_a_duplicate_status_counts_once(client, make, world):
    """The same delivered twice, in two different bodies, moves the counters once."""
    _post_all(client, "duplicate")
    m = _message(make, world["shop"], "wamid.hc-dup-1")
    assert (m.status, meta.ts(m.delivered_at), m.pricing_category) == ("delivered", "1764000200", "marketing")
    assert len(meta.inbox_rows(make.engine)) == 2
    _counts(make, world["campaign"], delivered=1)


def test_hard_case_3_read_without_delivered_is_also_delivered(client, make, world):
    """Meta skips delivered when the user is in the chat: the read time is the delivered time."""
    _post_all(client, "read_without_delivered")
    m = _message(make, world["shop"], "wamid.hc-read-1")
    assert (m.status, meta.ts(m.read_at), meta.ts(m.delivered_at)) == ("read", "1764000300", "1764000300")
    _counts(make, world["campaign"], delivered=1, read=1)


def test_hard_case_4_a_late_sent_does_not_undo_delivered(client, make, world):
    """sent after delivered keeps the message delivered; only the empty sent time is filled."""
    _post_all(client, "sent_after_delivered")
    m = _message(make, world["shop"], "wamid.hc-late-1")
    assert (m.status, meta.ts(m.delivered_at), meta.ts(m.sent_at)) == (
        "delivered",
        "1764000405",
        "1764000400",
    )
    _counts(make, world["campaign"], delivered=1, failed=0)


def test_hard_case_5_failures_keep_their_code_and_category(client, make, world):
    """131049, 131026, 131050 and 132015 failures keep Meta's code, title and details, fall in
    their categories, and the 131050 customer is unsubscribed."""
    _post_all(client, "failed_codes")
    shop = world["shop"]
    expected = {"131049": "delivery", "131026": "data_quality", "131050": "consent", "132015": "template"}
    for code, category in expected.items():
        m = _message(make, shop, f"wamid.hc-fail-{code}")
        assert (m.status, m.error_code, m.error_category, m.error_source) == (
            "failed",
            code,
            category,
            "meta",
        )
        assert m.error_title and m.error_details
    stopped = _message(make, shop, "wamid.hc-fail-131050")
    with Session(make.engine) as session:
        assert session.get(Customer, (shop.id, stopped.customer_id)).consent == "UNSUBSCRIBED"
    _counts(make, world["campaign"], failed=4)


def test_hard_case_6_delivered_after_failed_wins_and_keeps_the_error(client, make, world):
    """A user with several devices: delivered outranks the failure, whose reason stays on record."""
    _post_all(client, "delivered_after_failed")
    m = _message(make, world["shop"], "wamid.hc-multi-1")
    assert (m.status, m.error_code, meta.ts(m.failed_at)) == ("delivered", "131026", "1764000600")
    _counts(make, world["campaign"], delivered=1, failed=0)


def test_hard_case_7_an_unknown_wamid_is_parked_then_applied_when_recorded(client, make, world):
    """Statuses that beat the send response wait, and apply with the ratchet once the wamid is
    recorded: the campaign engine records it (sent_count moves with it) and calls
    release_parked in the same transaction."""
    _post_all(client, "unknown_wamid")
    with make.engine.connect() as connection:
        parked = connection.execute(text("SELECT wamid FROM parked_statuses")).scalars().all()
    assert parked == ["wamid.hc-early-1", "wamid.hc-early-1"]
    shop, campaign, early = world["shop"], world["campaign"], world["early"]
    with Session(make.engine) as session, session.begin():
        recorded = session.execute(
            text(
                "UPDATE messages SET wamid = 'wamid.hc-early-1', status = 'accepted'"
                " WHERE shop_id = :shop AND id = :id AND wamid IS NULL RETURNING id"
            ),
            {"shop": shop.id, "id": early.id},
        ).all()
        session.execute(
            text("UPDATE campaigns SET sent_count = sent_count + :n WHERE shop_id = :shop AND id = :id"),
            {"shop": shop.id, "id": campaign.id, "n": len(recorded)},
        )
        assert release_parked(session, shop.id, ["wamid.hc-early-1"]) == 2
    m = _message(make, shop, "wamid.hc-early-1")
    assert (m.status, meta.ts(m.sent_at), meta.ts(m.delivered_at)) == (
        "delivered",
        "1764000700",
        "1764000702",
    )
    assert m.pricing_category == "marketing"
    with make.engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM parked_statuses")).scalar() == 0
    _counts(make, campaign, sent=len(WAMIDS) + 1, delivered=1)


def test_hard_case_8_account_errors_become_shop_alerts(client, make, world):
    """value.errors without statuses are stored as an alert on the shop, nothing else moves."""
    _post_all(client, "account_errors")
    alerts = _all(make, ShopAlert)
    assert [(a.shop_id, a.code, a.title) for a in alerts] == [(world["shop"].id, "130429", "Rate limit hit")]
    assert alerts[0].details == "Cloud API message throughput has been reached."


def test_hard_case_9_an_unknown_phone_number_is_kept_and_ignored(client, make, world):
    """Meta's dashboard test sample (a number no shop has) is acknowledged, kept and marked."""
    _post_all(client, "unknown_phone_number")
    assert [row.outcome for row in meta.inbox_rows(make.engine)] == ["unknown_phone_number"]
    assert _message(make, world["shop"], "wamid.hc-late-1").status == "accepted"


def test_hard_case_10_a_status_without_recipient_id_applies(client, make, world):
    """A customer known only by a business-scoped user id: the wamid is enough."""
    _post_all(client, "no_recipient_id")
    m = _message(make, world["shop"], "wamid.hc-bsuid-1")
    assert (m.status, m.recipient_user_id) == ("delivered", "US.13491208655302741918")
    _counts(make, world["campaign"], delivered=1)


def test_hard_case_11_a_relative_href_is_stored_as_given(client, make, world):
    """Newer payloads give href as a relative path; it is kept, not validated as a URL."""
    _post_all(client, "relative_href")
    m = _message(make, world["shop"], "wamid.hc-href-1")
    assert m.error_href == "/documentation/business-messaging/whatsapp/support/error-codes"


def test_hard_case_12_non_ascii_bodies_are_verified_over_the_exact_bytes(client, make, world):
    """Meta signs its escaped-unicode bytes: those verify and apply; the same document
    re-serialised (unescaped) is other bytes, and its signature does not verify the original."""
    raw = (HARD / "non_ascii.body").read_bytes()
    assert b"\\u00eb" in raw and raw.isascii()
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    secret = load_settings().meta_app_secret
    response = client.post(meta.URL, data=raw, headers={HEADER: sign(secret, reserialised)})
    assert response.status_code == 401
    assert meta.post(client, raw).status_code == 200
    meta.drain()
    assert _message(make, world["shop"], "wamid.hc-unicode-1").status == "read"
