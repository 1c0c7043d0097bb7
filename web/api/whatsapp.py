"""``/api/whatsapp``: connect, describe and disconnect the shop's WhatsApp number (CONTRACT.md).

- ``PUT`` {waba_id, phone_number_id, access_token}: checked with Meta, registered on the Cloud
  API when Meta says it is not yet (core/whatsapp/registration.py), subscribed, stored;
- ``POST /embedded-signup/state``: a single-use state for one Embedded Signup of this shop;
- ``POST /embedded-signup`` {code, waba_id, phone_number_id, state}: the state checked, the code
  exchanged for the business's token at Graph's ``oauth/access_token``, then as ``PUT``;
- ``POST /refresh``: the stored connection checked again with Meta (and subscribed again);
- ``GET``: the connection, or ``{"connected": false}``; ``DELETE``: disconnect (204): the number
  is released at once, then a job halts the running campaigns and unsubscribes our app from the
  WABA before the token is forgotten.

Answers: the connection; with ``two_step_pin`` once, in the answer of the call that registered
the number (the merchant keeps it; it is stored encrypted and never shown again). 422
``{"errors": [{"field", "message"}]}`` when the request or Meta refuses (Meta's own message, or
the registration's refusal in words), 409 when another shop holds the number (told only to a
caller whose token Meta accepted for it), 503 when Meta cannot be reached; nothing is stored in
any of those cases.
"""

from __future__ import annotations

import logging

from flask import jsonify, request
from redis.exceptions import RedisError

from core.rules.failure_codes import OurCode
from core.settings import get_settings
from core.whatsapp import graph
from core.whatsapp.connect import (
    ConnectionRefused,
    ConnectRequest,
    NumberTaken,
    check_with_meta,
    number_taken,
    parse_fields,
    store_connection,
)
from core.whatsapp.graph import GraphRefused, GraphUnreachable
from core.whatsapp.release import release_number
from core.whatsapp.signup import STATE_TTL_S, issue_state, take_state
from core.whatsapp.state import describe, is_connected
from jobs.queues import DISPATCH, enqueue
from jobs.whatsapp import release_whatsapp
from web.api import blueprint
from web.database import db, release_transaction
from web.tenancy import current_shop

log = logging.getLogger(__name__)

SIGNUP_FIELDS = ("code", "waba_id", "phone_number_id", "state")


@blueprint.get("/whatsapp")
def whatsapp_connection():
    return jsonify(describe(db(), current_shop()))


@blueprint.put("/whatsapp")
def connect_whatsapp():
    return _answer(lambda: ConnectRequest(**parse_fields(request.get_json(silent=True))))


@blueprint.post("/whatsapp/embedded-signup/state")
def start_embedded_signup():
    try:
        state = issue_state(current_shop().id)
    except RedisError:
        return jsonify(
            error="unavailable", message="Embedded Signup cannot start just now; try again shortly."
        ), 503
    return jsonify(state=state, expires_in=STATE_TTL_S)


@blueprint.post("/whatsapp/embedded-signup")
def connect_whatsapp_by_embedded_signup():
    return _answer(_exchanged_request)


@blueprint.post("/whatsapp/refresh")
def refresh_whatsapp():
    # A check of the stored connection never registers: nobody would be shown the new PIN.
    return _answer(_stored_request, register=False)


@blueprint.delete("/whatsapp")
def disconnect_whatsapp():
    shop_id = current_shop().id
    release_number(db(), shop_id)
    db().commit()
    try:  # halt the running campaigns, unsubscribe from the WABA, forget the token
        enqueue(DISPATCH, release_whatsapp, shop_id, str(OurCode.WHATSAPP_DISCONNECTED))
    except RedisError as error:
        # Released already: lanes halt on their own, and the periodic release job unsubscribes.
        log.warning("shop %s disconnected; release job not queued (%s)", shop_id, type(error).__name__)
    return "", 204


def _exchanged_request() -> ConnectRequest:
    """The Embedded Signup's ids with the token its code is exchanged for, once the state shows
    that this shop's session started the signup."""
    settings = get_settings()
    fields = parse_fields(request.get_json(silent=True), SIGNUP_FIELDS)
    if not settings.embedded_signup_offered:
        raise ConnectionRefused.on(
            "code", "Embedded Signup is not set up: META_APP_ID and META_CONFIG_ID are unset."
        )
    if not take_state(current_shop().id, fields["state"]):
        raise ConnectionRefused.on(
            "state",
            "This sign-in was not started from this shop's settings, was used already, or is older "
            "than ten minutes. Start Connect with Facebook again.",
        )
    release_transaction()  # no transaction open while Meta exchanges the code
    try:
        token = graph.exchange_code(fields["code"], settings.meta_app_id, settings.meta_app_secret)
    except GraphRefused as refusal:
        raise ConnectionRefused.on("code", refusal.message, refusal.code) from None
    return ConnectRequest(fields["waba_id"], fields["phone_number_id"], token)


def _stored_request() -> ConnectRequest:
    shop = current_shop()
    if not is_connected(shop):
        raise ConnectionRefused.on("connection", "No WhatsApp number is connected.")
    return ConnectRequest.stored(shop)


def _answer(make_request, register: bool = True):
    """Check the connection with Meta (registering a number not on the Cloud API yet), store it,
    answer it; or say precisely why not. Whether
    another shop holds the number is said only once Meta has accepted the caller's token for it:
    it would otherwise tell anyone with a session which numbers use the app."""
    shop_id = current_shop().id
    try:
        connect = make_request()
        release_transaction()  # hold no transaction (nor the shop's row) while Meta is asked
        facts = check_with_meta(connect, get_settings().meta_app_id, register=register)
        if number_taken(db(), shop_id, connect.phone_number_id):
            raise NumberTaken()
        store_connection(db(), shop_id, connect, facts)
        db().commit()
    except ConnectionRefused as refusal:
        return jsonify(error="whatsapp_refused", errors=refusal.errors), 422
    except NumberTaken:
        message = "This WhatsApp number is connected to another shop. Disconnect it there first."
        return jsonify(
            error="number_taken", message=message, errors=[{"field": "phone_number_id", "message": message}]
        ), 409
    except GraphUnreachable as error:
        return jsonify(
            error="meta_unreachable", message=f"{error} Nothing was changed; try again shortly."
        ), 503
    except RedisError:
        return jsonify(
            error="unavailable", message="The sign-in could not be checked; try again shortly."
        ), 503
    answer = describe(db(), current_shop())
    if facts.pin:  # shown this once; the merchant needs it to move the number later
        answer["two_step_pin"] = facts.pin
    return jsonify(answer)
