"""Property: whatever Meta does to the order of status events (permutes them, repeats them,
batches them into bodies, entries and changes, spreads them over any number of POSTs and
drains), the messages and campaign counters end exactly as with the in-order stream, and the
counters and time distributions the drain keeps equal a recount from the messages."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from core.whatsapp.callback import callback_for
from tests import meta

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

ROW_COLUMNS = (
    "wamid, status, sent_at, delivered_at, read_at, failed_at, error_code, error_category, error_title,"
    " error_details, error_href, error_source, pricing_category, pricing_type, pricing_billable,"
    " conversation_id, conversation_origin, recipient_user_id"
)
_shops = itertools.count(1)
HANDED_OVER = datetime(2025, 10, 9, tzinfo=UTC)
RECIPIENT = "+34600000000"

# One event: (status, seconds after the message's first event, error code for a failure,
# whether it carries the message's pricing and conversation, as Meta does on some events only).
event = st.tuples(
    st.sampled_from(["sent", "delivered", "read", "failed", "played"]),
    st.integers(0, 40),
    st.sampled_from([131026, 131049, 131000]),
    st.booleans(),
)
message = st.tuples(
    st.lists(event, min_size=1, max_size=5),
    st.booleans(),  # the wamid is already stored (else the events name our signed id: biz_opaque)
    st.sampled_from(["marketing", "utility"]),
)


def _status(n: int, wamid: str, callback: str, ev: tuple, known: bool, category: str, codes: dict) -> dict:
    name, offset, code, priced = ev
    seconds = 1760000000 + n * 100 + offset
    # Meta's clock orders a message's failures: two different failures in one second are not
    # modelled (there, the one stored first is kept, which depends on arrival by definition).
    code = codes.setdefault(seconds, code)
    extra = {} if known else {"biz_opaque_callback_data": callback}
    if priced:
        extra["pricing"] = {"billable": True, "pricing_model": "PMP", "type": "regular", "category": category}
        extra["conversation"] = {"id": f"conv-{n}", "origin": {"type": category}}
    if name == "failed":
        return meta.failed(wamid, seconds, code, title=f"Error {code}", details=f"details {code}", **extra)
    return meta.status(wamid, name, seconds, **extra)


def _world(make, histories):
    """A new shop and campaign with one message per history; return the statuses to send,
    in Meta's time order (ties in the order they were drawn)."""
    n = next(_shops)
    phone = f"77{n:08d}"
    shop = make.shop(f"property-{n}.myshopify.com", meta_phone_number_id=phone)
    campaign = make.campaign(shop, f"Property {n}")
    statuses = []
    for i, (events, known, category) in enumerate(histories):
        wamid = f"wamid.p-{i}"
        row = make.message(
            campaign,
            make.customer(shop),
            wamid=wamid if known else None,
            status="accepted" if known else "queued",
            # handed to Meta, to the number its statuses name (tests/meta.py), as dispatch does
            submitted_at=HANDED_OVER,
            phone=RECIPIENT,
        )
        codes: dict[int, int] = {}
        callback = callback_for(shop.id, row.id)
        statuses += [_status(i, wamid, callback, ev, known, category, codes) for ev in events]
    make.recount(campaign)
    ordered = sorted(enumerate(statuses), key=lambda pair: (int(pair[1]["timestamp"]), pair[0]))
    return phone, campaign, [s for _, s in ordered]


def _state(make, campaign) -> tuple:
    with make.engine.connect() as connection:
        rows = connection.execute(
            text(f"SELECT {ROW_COLUMNS} FROM messages WHERE shop_id = :shop ORDER BY id"),
            {"shop": campaign.shop_id},
        ).all()
    assert meta.drift(make.engine, campaign) == []
    return [tuple(r) for r in rows], meta.counters(make.engine, campaign)


def _body(phone: str, statuses: list[dict], shape: list[int]) -> dict:
    """Spread statuses over entries and changes: ``shape`` gives the changes per entry."""
    changes = [meta.change(phone, statuses=[s]) for s in statuses]
    entries, start = [], 0
    for size in shape:
        if start >= len(changes):
            break
        entries.append(changes[start : start + size])
        start += size
    if start < len(changes):
        entries.append(changes[start:])
    return meta.envelope(*entries)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(histories=st.lists(message, min_size=1, max_size=4), data=st.data())
def test_any_order_duplication_and_batching_ends_as_the_in_order_stream(client, make, histories, data):
    """Permuted, duplicated, batched statuses over several POSTs and drains give the same
    message rows and counters as the in-order stream, and the counters stay exact."""
    phone, campaign, in_order = _world(make, histories)
    for status in in_order:  # the reference: one event per POST, each drained before the next
        assert meta.post(client, meta.statuses_body(phone, status)).status_code == 200
        meta.drain()
    expected = _state(make, campaign)
    assert all(row[0] is not None for row in expected[0])  # each found its message, by wamid or callback

    phone, campaign, in_order = _world(make, histories)
    repeats = data.draw(st.lists(st.sampled_from(in_order), max_size=len(in_order)), label="repeated")
    stream = data.draw(st.permutations(in_order + repeats), label="stream")
    while stream:
        size = data.draw(st.integers(1, len(stream)), label="statuses in this POST")
        body, stream = stream[:size], stream[size:]
        shape = data.draw(st.lists(st.integers(1, 3), max_size=3), label="changes per entry")
        meta.post(client, _body(phone, body, shape))
        if data.draw(st.booleans(), label="drain now"):
            meta.drain()
    meta.drain()
    assert _state(make, campaign) == expected
