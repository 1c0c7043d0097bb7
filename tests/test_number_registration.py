"""A brand-new number through ``/api/whatsapp`` against the real Meta stand-in: Meta reports it
PENDING on no platform, so the app registers it with a new PIN (stored encrypted, answered once,
never logged); a PIN someone else set (133005) and Meta's limit of 10 attempts in 72 hours
(133016) are refused in words; a WhatsApp Business app number (coexistence) is not registered
and sends at 20 a second; a check of the stored connection never registers. The stand-in's
node, registration request, answer and refusals fit Meta's OpenAPI schemas."""

from __future__ import annotations

import copy
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from core.crypto import decrypt_token
from core.models import WhatsAppConnection
from core.whatsapp import graph
from core.whatsapp.graph import PHONE_NUMBER_FIELDS, PhoneNumber
from sim.meta.config import DEMO_ACCOUNTS, DEMO_APP_ID
from tests.meta_openapi import validate_meta_schema
from tests.tokens import bearer

SHOP = "demo.myshopify.com"
NEW_NUMBER, NEW_WABA, NEW_TOKEN = "1234567892", "5550003", "demo-new-number-token"
APP_NUMBER, APP_WABA = "1234567893", "5550004"
NEW = {"waba_id": NEW_WABA, "phone_number_id": NEW_NUMBER, "access_token": NEW_TOKEN}


@pytest.fixture
def api(meta, service_urls):
    from web import create_app

    app = create_app({"APP_ENV": "test", "TESTING": True, "META_APP_ID": DEMO_APP_ID, "META_CONFIG_ID": "42"})
    return app.test_client()


@pytest.fixture
def shop(make):
    return make.shop(SHOP, meta_phone_number_id=None)


def _row(make, shop_id) -> WhatsAppConnection | None:
    with Session(make.engine) as session:
        return session.get(WhatsAppConnection, shop_id)


def _node(meta, phone_number_id=NEW_NUMBER, token=NEW_TOKEN) -> dict:
    response = meta.http.get(
        f"{meta.url}/v25.0/{phone_number_id}",
        params={"fields": PHONE_NUMBER_FIELDS},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert response.status_code == 200
    return response.json()


def _with_foreign_pin(meta) -> None:
    """The new number already has a two-step verification PIN someone else set."""
    accounts = copy.deepcopy(DEMO_ACCOUNTS)
    accounts[NEW_NUMBER]["pin"] = "909090"
    meta.configure(accounts=accounts)


def _state(api) -> str:
    return api.post("/api/whatsapp/embedded-signup/state", headers=bearer(SHOP)).json["state"]


def test_the_stand_ins_registration_fits_metas_openapi(meta, monkeypatch):
    """The node's status fields, the register request the app sends, Meta's answer and both
    refusals fit the schemas of Meta's OpenAPI (getPhoneNumberById, WhatsAppAccountNumber,
    registerWhatsAppBusinessPhoneNumber, GraphAPIError)."""
    node = _node(meta)
    validate_meta_schema(node, "PhoneNumberInfo")
    validate_meta_schema(node["status"], "WhatsAppAccountNumberStatus")
    validate_meta_schema(node["platform_type"], "WhatsAppBusinessAccountHostPlatform")
    validate_meta_schema(node["code_verification_status"], "WhatsAppCodeVerificationStatus")
    validate_meta_schema(node["name_status"], "WhatsAppDisplayNameStatus")
    assert PhoneNumber.from_graph(node).needs_registration
    unregistered_send = meta.http.post(
        f"{meta.url}/v25.0/{NEW_NUMBER}/messages",
        json={"messaging_product": "whatsapp", "to": "+34600000001", "type": "template"},
        headers={"Authorization": f"Bearer {NEW_TOKEN}"},
        timeout=10,
    )
    assert unregistered_send.json()["error"]["code"] == 133010  # as every send until registered

    sent: list[dict] = []
    call = graph._call
    monkeypatch.setattr(graph, "_call", lambda *a, **k: sent.append(k["json"]) or call(*a, **k))
    graph.register(NEW_NUMBER, NEW_TOKEN, "123456")
    validate_meta_schema(sent[0], "WhatsAppBusinessPhoneNumberRegistrationRequest")
    answer = meta.http.post(
        f"{meta.url}/v25.0/{NEW_NUMBER}/register",
        json=sent[0],
        headers={"Authorization": f"Bearer {NEW_TOKEN}"},
        timeout=10,
    )
    validate_meta_schema(answer.json(), "WhatsAppBusinessPhoneNumberRegistrationResponse")
    registered = _node(meta)
    assert (registered["status"], registered["platform_type"]) == ("CONNECTED", "CLOUD_API")
    assert not PhoneNumber.from_graph(registered).needs_registration

    wrong = meta.http.post(
        f"{meta.url}/v25.0/{NEW_NUMBER}/register",
        json={"messaging_product": "whatsapp", "pin": "654321"},
        headers={"Authorization": f"Bearer {NEW_TOKEN}"},
        timeout=10,
    )
    validate_meta_schema(wrong.json(), "GraphAPIError")
    assert wrong.json()["error"]["code"] == 133005


def test_a_new_number_is_registered_with_a_pin_shown_once(api, meta, make, shop, caplog):
    """Embedded Signup of a PENDING number: registered on the Cloud API with a new 6-digit PIN,
    answered once, stored encrypted, never in a log line nor in GET; it then sends."""
    caplog.set_level(logging.DEBUG)
    body = {"code": "demo-new-number-code", "waba_id": NEW_WABA, "phone_number_id": NEW_NUMBER}
    response = api.post(
        "/api/whatsapp/embedded-signup", json=body | {"state": _state(api)}, headers=bearer(SHOP)
    )
    assert response.status_code == 200, response.json
    pin = response.json["two_step_pin"]
    assert re.fullmatch(r"[0-9]{6}", pin)
    assert response.json["two_step_pin_kept"] is True and response.json["registered_at"]
    assert response.json["verified_name"] == "Demo Shop Studio"
    row = _row(make, shop.id)
    assert (
        decrypt_token(row.two_step_pin_ciphertext) == pin and pin.encode() not in row.two_step_pin_ciphertext
    )
    assert pin not in caplog.text
    assert (_node(meta)["status"], _node(meta)["platform_type"]) == ("CONNECTED", "CLOUD_API")

    later = api.get("/api/whatsapp", headers=bearer(SHOP)).json
    assert "two_step_pin" not in later and later["two_step_pin_kept"] is True
    assert later["number_status"] == "CONNECTED"  # as Meta reads it after the registration
    # A check of the same number keeps the PIN and registers nothing again.
    again = api.post("/api/whatsapp/refresh", headers=bearer(SHOP))
    assert again.status_code == 200 and "two_step_pin" not in again.json
    assert decrypt_token(_row(make, shop.id).two_step_pin_ciphertext) == pin


def test_a_pin_set_by_someone_else_is_explained(api, meta, make, shop):
    """Meta's 133005: the merchant reads why and what to do in WhatsApp Manager; nothing stored."""
    _with_foreign_pin(meta)
    response = api.put("/api/whatsapp", json=NEW, headers=bearer(SHOP))
    assert response.status_code == 422
    error = response.json["errors"][0]
    assert error["field"] == "phone_number_id" and error["meta_code"] == 133005
    assert "already has a two-step verification PIN" in error["message"]
    assert "turn off two-step verification" in error["message"]
    assert _row(make, shop.id) is None
    assert _node(meta)["status"] == "PENDING"


def test_the_eleventh_attempt_in_72_hours_says_when_to_try_again(api, meta, make, shop):
    """Meta takes 10 registration requests per number in 72 hours; the 11th (133016) is refused
    with the time after which Meta takes one again."""
    _with_foreign_pin(meta)
    for _ in range(10):
        assert (
            api.put("/api/whatsapp", json=NEW, headers=bearer(SHOP)).json["errors"][0]["meta_code"] == 133005
        )
    response = api.put("/api/whatsapp", json=NEW, headers=bearer(SHOP))
    assert response.status_code == 422
    error = response.json["errors"][0]
    assert error["meta_code"] == 133016
    assert "10 registration attempts per number in 72 hours" in error["message"]
    retry_at = datetime.now(UTC) + timedelta(hours=72)
    assert f"Connect it again after {retry_at:%d %B %Y}" in error["message"]
    assert error["message"].endswith(" UTC.")
    assert _row(make, shop.id) is None


def test_a_business_app_number_is_not_registered_and_sends_at_20(api, meta, make, shop):
    """Coexistence: Meta registered the number during its onboarding; the app asks for no PIN
    and caps the number at 20 messages a second."""
    body = {"code": "demo-business-app-code", "waba_id": APP_WABA, "phone_number_id": APP_NUMBER}
    response = api.post(
        "/api/whatsapp/embedded-signup", json=body | {"state": _state(api)}, headers=bearer(SHOP)
    )
    assert response.status_code == 200, response.json
    assert "two_step_pin" not in response.json and response.json["two_step_pin_kept"] is False
    assert response.json["on_business_app"] is True and response.json["messages_per_second"] == 20


def test_a_check_of_the_stored_connection_never_registers(api, meta, make, shop):
    """A seeded PENDING number checked again: nobody would see a new PIN, so none is made."""
    from core.crypto import encrypt_token
    from core.models import Shop

    with Session(make.engine) as session:
        stored = session.get(Shop, shop.id)
        stored.meta_phone_number_id, stored.meta_waba_id = NEW_NUMBER, NEW_WABA
        stored.meta_access_token_ciphertext = encrypt_token(NEW_TOKEN)
        session.commit()
    response = api.post("/api/whatsapp/refresh", headers=bearer(SHOP))
    assert response.status_code == 200 and "two_step_pin" not in response.json
    assert _node(meta)["status"] == "PENDING"
