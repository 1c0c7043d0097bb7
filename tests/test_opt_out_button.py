"""A tap on a marketing opt-out button ("Stop promotions", by the button's text or payload) is
the customer's stop, not engagement: no click is counted, and the customer (and every customer
of the shop with that number) is unsubscribed and written back to Shopify, as a
``user_preferences`` stop is. The reply's shape is Meta's template quick reply, as in pywa's
``callback_button.json`` (tests/fixtures/meta/pywa)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Click, Customer
from core.rules.opt_out import is_opt_out
from tests import meta

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

PHONE = "1234567890"
PYWA = Path(__file__).parent / "fixtures" / "meta" / "pywa" / "callback_button.json"


def _tap(context_wamid: str, reply_id: str, text: str, payload: str, seconds: int = 1700000100) -> dict:
    """pywa's real quick-reply body, pointed at our message and number, with this button."""
    body = copy.deepcopy(json.loads(PYWA.read_text())["quick_reply"])
    value = body["entry"][0]["changes"][0]["value"]
    value["metadata"]["phone_number_id"] = PHONE
    (reply,) = value["messages"]
    reply.update(id=reply_id, timestamp=meta.ts(seconds))
    reply["context"]["id"] = context_wamid
    reply["button"] = {"text": text, "payload": payload}
    return body


@pytest.mark.parametrize(
    ("text", "payload", "stop"),
    [
        ("Stop promotions", "Stop promotions", True),  # Meta's suggested opt-out text, default payload
        ("Detener promociones", "STOP_PROMOTIONS", True),  # a translated button, our payload
        ("Unsubscribe", "u1", True),
        ("Arrêter les promotions", "b2", True),  # a translated button without our payload
        ("Salir", "STOP-PROMOTIONS", True),  # any text, the campaign's payload says stop
        ("Shop now", "SHOP_NOW", False),
        ("Stop by our store", "VISIT", False),  # whole phrases only
        ("Not interested", "Not interested", False),
    ],
)
def test_which_buttons_are_a_stop(text, payload, stop):
    assert is_opt_out(text, payload) is stop


def test_an_opt_out_tap_is_a_stop_not_a_click(client, make):
    shop = make.shop(meta_phone_number_id=PHONE)
    campaign = make.campaign(shop, "Spring")
    ana = make.customer(shop, phone="+34612345678", phone_e164="+34612345678")
    twin = make.customer(shop, phone="+34612345678", phone_e164="+34612345678")  # same number
    other = make.customer(shop, phone="+34612345679", phone_e164="+34612345679")
    make.message(campaign, ana, wamid="wamid.ana", status="delivered", phone="+34612345678")
    make.message(campaign, other, wamid="wamid.other", status="delivered", phone="+34612345679")
    make.recount(campaign)
    for body in (
        _tap("wamid.ana", "wamid.tap-1", "Stop promotions", "Stop promotions"),
        _tap("wamid.other", "wamid.tap-2", "Shop now", "SHOP_NOW"),
    ):
        assert meta.post(client, body).status_code == 200
        meta.drain()
    with Session(make.engine) as session:
        clicks = session.scalars(select(Click.source_id)).all()
        consent = {
            c.id: (c.consent, c.consent_source, c.consent_writeback_at is not None)
            for c in session.scalars(select(Customer).where(Customer.shop_id == shop.id))
        }
    assert clicks == ["wamid.tap-2"]
    assert meta.counters(make.engine, campaign)["clicked"] == 1
    assert consent[ana.id] == consent[twin.id] == ("UNSUBSCRIBED", "whatsapp_stop", True)
    assert consent[other.id][0] == "SUBSCRIBED"
    assert meta.drift(make.engine, campaign) == []
