"""Statuses of other apps on the same WhatsApp number: a status binds to our message by its
``biz_opaque_callback_data`` only when the callback is ours beyond doubt (signed), the message
was handed to Meta, the recipient is the number we sent to and the message has no other wamid.
Everything else is parked, never applied."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from core.dispatch.materialise import materialise_audience
from core.models import Message
from core.whatsapp.callback import callback_for
from tests import meta as webhooks
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer

PHONE = "1234567890"
OUR_NUMBER = "+34612345678"
_wamids = itertools.count(1)


def _message(make, engine, message_id: int) -> Message:
    with Session(engine) as session:
        return session.scalars(select(Message).where(Message.id == message_id)).one()


def _parked(engine) -> list[str]:
    with engine.connect() as connection:
        return connection.execute(text("SELECT wamid FROM parked_statuses ORDER BY id")).scalars().all()


def test_a_foreign_read_naming_our_id_never_touches_a_message_not_yet_sent(client, make, meta, run_jobs):
    """Another app's `read` for its own wamid and recipient, whose numeric callback happens to
    be our message id, leaves our queued message untouched and uncounted, and dispatch still
    sends it to our customer."""
    shop = whatsapp_shop(make, credits=10)
    make.customer(shop, first_name="Ana", phone=OUR_NUMBER, phone_e164=OUR_NUMBER)
    created = client.post(
        "/api/campaigns",
        json={"name": "Autumn", "template": {"name": "weekly_offer", "language": "en"}},
        headers=bearer(),
    )
    assert client.post(f"/api/campaigns/{created.json['id']}/launch", headers=bearer()).status_code == 202
    campaign_id = created.json["id"]
    with Session(make.engine) as session, session.begin():
        assert materialise_audience(session, shop.id, campaign_id) == 1
        (ours,) = session.scalars(select(Message.id).where(Message.campaign_id == campaign_id)).all()

    foreign = webhooks.status("wamid.OTHER_APP", "read", 1760000000, recipient_id="447700900123")
    foreign["biz_opaque_callback_data"] = str(ours)
    assert (
        webhooks.post(client, webhooks.statuses_body(shop.meta_phone_number_id, foreign)).status_code == 200
    )
    webhooks.drain()

    untouched = _message(make, make.engine, ours)
    assert (untouched.status, untouched.wamid, untouched.read_at) == ("queued", None, None)
    with Session(make.engine) as session:
        counted = session.execute(
            text("SELECT sent_count, delivered_count, read_count FROM campaigns WHERE id = :id"),
            {"id": campaign_id},
        ).one()
    assert tuple(counted) == (0, 0, 0)
    assert _parked(make.engine) == ["wamid.OTHER_APP"]

    run_jobs()  # dispatch: the message is still ours to send
    sent = _message(make, make.engine, ours)
    fate = meta.truth()["messages"].get(sent.wamid)
    assert fate is not None and fate["to"] == OUR_NUMBER


def _world(make, *, phone: str = OUR_NUMBER, handed_over: bool = True, wamid: str | None = None):
    """A shop, a campaign and one message of ours to ``phone``: handed to Meta or still queued,
    with or without a wamid."""
    shop = make.shop(meta_phone_number_id=PHONE)
    other = make.shop("other.myshopify.com")
    campaign = make.campaign(shop, "Autumn")
    sent = datetime.now(UTC) if handed_over else None
    status = "accepted" if wamid else "queued"
    message = make.message(
        campaign, make.customer(shop), phone=phone, submitted_at=sent, wamid=wamid, status=status
    )
    neighbour = make.message(campaign, make.customer(shop), phone=phone, submitted_at=sent, status="queued")
    make.recount(campaign)
    return shop, other, campaign, message, neighbour


def _tampered(callback: str) -> str:
    """The same callback with the last character of its mac changed."""
    return callback[:-1] + ("A" if callback[-1] != "A" else "B")


# (case, message, callback data, recipient_id (or the recipient fields, or None), binds)
OURS = lambda w: callback_for(w.shop.id, w.message.id)  # noqa: E731
CASES = [
    ("signed, handed over, our recipient", {}, OURS, "34612345678", True),
    ("Mexico: Meta's wa_id keeps the 1 after 52", {"phone": "+525512345678"}, OURS, "5215512345678", True),
    ("Brazil: wa_id without the ninth digit", {"phone": "+5511912345678"}, OURS, "551112345678", True),
    ("Argentina: wa_id with the 9 after 54", {"phone": "+541112345678"}, OURS, "5491112345678", True),
    ("a bare message id, as before signing", {}, lambda w: str(w.message.id), "34612345678", False),
    ("signed, but never handed to Meta", {"handed_over": False}, OURS, "34612345678", False),
    ("signed, another recipient", {}, OURS, "447700900123", False),
    (
        "a username user, named by business-scoped user id only",
        {},
        OURS,
        {"recipient_user_id": "ES.1234"},
        True,
    ),
    ("signed, no recipient named", {}, OURS, None, False),
    (
        "signed, a user id and another number",
        {},
        OURS,
        {"recipient_user_id": "GB.1", "recipient_id": "447700900123"},
        False,
    ),
    ("signed, already sent under another wamid", {"wamid": "wamid.first"}, OURS, "34612345678", False),
    ("signed for another shop", {}, lambda w: callback_for(w.other.id, w.message.id), "34612345678", False),
    (
        "our id with the mac of our other message",
        {},
        lambda w: f"v1.{w.message.id}.{callback_for(w.shop.id, w.neighbour.id).rsplit('.', 1)[1]}",
        "34612345678",
        False,
    ),
    ("mac changed", {}, lambda w: _tampered(callback_for(w.shop.id, w.message.id)), "34612345678", False),
    ("another version", {}, lambda w: "v2" + callback_for(w.shop.id, w.message.id)[2:], "34612345678", False),
    (
        "a line break after it",
        {},
        lambda w: callback_for(w.shop.id, w.message.id) + "\n",
        "34612345678",
        False,
    ),
]


@dataclass
class World:
    shop: object
    other: object
    campaign: object
    message: Message
    neighbour: Message


@pytest.mark.parametrize(
    ("message", "callback", "recipient", "binds"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_a_status_binds_by_callback_only_when_everything_says_it_is_ours(
    client, make, message, callback, recipient, binds
):
    """A status whose wamid we have not recorded binds to the message its callback names only
    when the callback is signed for this shop and message, the message was handed to Meta with
    no other wamid, and Meta's recipient is the number we sent to; otherwise it is parked and
    the message and its campaign's counters do not move."""
    world = World(*_world(make, **message))
    wamid = f"wamid.status-{next(_wamids)}"
    status = webhooks.status(wamid, "delivered", 1760000000, biz_opaque_callback_data=callback(world))
    del status["recipient_id"]  # as each case says: a number, a business-scoped user id, both or none
    if isinstance(recipient, dict):
        status.update(recipient)
    elif recipient is not None:
        status["recipient_id"] = recipient
    before = _message(make, make.engine, world.message.id)
    assert webhooks.post(client, webhooks.statuses_body(PHONE, status)).status_code == 200
    webhooks.drain()

    after = _message(make, make.engine, world.message.id)
    counters = webhooks.counters(make.engine, world.campaign)
    if binds:
        assert (after.wamid, after.status, counters["sent"], counters["delivered"]) == (
            wamid,
            "delivered",
            1,
            1,
        )
        assert _parked(make.engine) == []
    else:
        assert (after.wamid, after.status, after.delivered_at) == (before.wamid, before.status, None)
        assert (counters["delivered"], counters["sent"]) == (0, 1 if before.wamid else 0)
        assert _parked(make.engine) == [wamid]
    assert webhooks.drift(make.engine, world.campaign) == []


@pytest.fixture
def world(make) -> World:
    """One world for every example of a property: its message stays queued throughout."""
    return World(*_world(make, handed_over=True))


callbacks = st.one_of(
    st.text(max_size=80),
    st.integers(min_value=0, max_value=2**63).map(str),
    st.from_regex(r"v1\.[0-9]{1,19}\.[A-Za-z0-9_-]{22}", fullmatch=True),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_callback_we_did_not_sign_binds(client, make, world, data):
    """Whatever another app puts in its callback data (text, numbers, our own form with a mac
    it guessed, our message's id in it), its status, sent to our customer's number, never
    binds to a message of ours."""
    guessed = data.draw(
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", min_size=22, max_size=22)
    )
    callback = data.draw(
        st.one_of(callbacks, st.just(str(world.message.id)), st.just(f"v1.{world.message.id}.{guessed}")),
        label="callback",
    )
    wamid = f"wamid.foreign-{next(_wamids)}"
    status = webhooks.status(
        wamid, "read", 1760000000, recipient_id="34612345678", biz_opaque_callback_data=callback
    )
    assert webhooks.post(client, webhooks.statuses_body(PHONE, status)).status_code == 200
    webhooks.drain()
    after = _message(make, make.engine, world.message.id)
    assert (after.wamid, after.status, after.read_at) == (None, "queued", None)
    assert webhooks.counters(make.engine, world.campaign)["read"] == 0
