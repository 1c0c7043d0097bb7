"""The Meta stand-in plays the reviewed codes, both ways Meta reports them: as a send answer
(a rule for one recipient, or "*" for every one: a code that hits a whole template or number)
and as an asynchronous failed status. Each body is checked against Meta's own shapes: the
send answer against the OpenAPI description's ``GraphAPIError``, the status error against its
``StatusError`` and against pywa's real failed status (tests/fixtures/meta/pywa)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Campaign, Message, ShopAlert
from core.whatsapp.send import messages_url, send_request_body
from sim.meta.config import SimConfig
from sim.meta.error_texts import ERROR_TEXTS
from sim.meta.fates import Event, Fate, status_object
from tests.meta_openapi import validate_meta_schema
from tests.meta_stand_in import PHONE_NUMBER_ID, TOKEN, whatsapp_shop
from tests.tokens import bearer

REVIEWED = [100, 131052, 131053, 131063, 131064, 131037, 33, 17, 32, 613, 80008]
PYWA_FAILED = Path(__file__).parent / "fixtures" / "meta" / "pywa" / "message_status.json"


def _post_send(meta, to: str) -> requests.Response:
    body = send_request_body(to, "weekly_offer", "en", [], "1")
    url = messages_url(PHONE_NUMBER_ID).replace("https://graph.facebook.com", meta.url)
    return meta.http.post(url, json=body, headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.mark.parametrize("code", REVIEWED)
def test_every_reviewed_code_can_be_a_send_answer_for_every_recipient(meta, code):
    meta.configure(rules=[{"to": "*", "error": code}])
    for to in ("+34612345678", "+34699999999"):
        answer = _post_send(meta, to)
        assert answer.status_code == 400
        validate_meta_schema(answer.json(), "GraphAPIError")
        error = answer.json()["error"]
        assert error["code"] == code and error["message"] == f"(#{code}) {ERROR_TEXTS[code][0]}"
    assert meta.truth()["refused"] == {str(code): 2}


@pytest.mark.parametrize("code", REVIEWED)
def test_every_reviewed_code_can_be_an_asynchronous_failure(code):
    """A failed status the stand-in posts carries Meta's error object, shaped as pywa's real one."""
    fate = Fate("wamid.x", PHONE_NUMBER_ID, "+34612345678", None, "failed", False, code)
    status = status_object(fate, Event("failed", 1700000000, 0.0, error_code=code))
    (error,) = status["errors"]
    validate_meta_schema(error, "StatusError")
    real = json.loads(PYWA_FAILED.read_text())["failed"]["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert set(error) == set(real["errors"][0]) and set(status) == set(real)
    assert (error["code"], error["title"]) == (code, ERROR_TEXTS[code][0])


def test_a_scenario_can_draw_the_reviewed_codes_as_failures():
    """delivery.failure_codes takes any of them (a scenario asks; none is drawn by default)."""
    config = SimConfig()
    config.update({"delivery": {"failure_codes": {"131053": 1, "131063": 1}}})
    assert set(config.delivery.failure_codes) == {"131053", "131063"}
    assert not {str(c) for c in REVIEWED} & set(SimConfig().delivery.failure_codes)


def test_header_media_refused_for_every_send_halts_the_campaign_after_three(client, make, meta, run_jobs):
    """The stand-in answers 131053 to every send: the campaign halts on the third refusal (one
    alert, the rest failed by us), instead of every message being sent and refused one by one."""
    shop = whatsapp_shop(make, messages_per_second=20)
    for n in range(30):
        make.customer(shop, first_name=f"C{n}", phone=f"+3461300{n:04d}", phone_e164=f"+3461300{n:04d}")
    meta.configure(rules=[{"to": "*", "error": 131053}])
    created = client.post(
        "/api/campaigns",
        json={"name": "Media", "template": {"name": "weekly_offer", "language": "en"}},
        headers=bearer(),
    )
    assert created.status_code == 201, created.json
    assert client.post(f"/api/campaigns/{created.json['id']}/launch", headers=bearer()).status_code == 202
    run_jobs()
    with Session(make.engine) as session:
        campaign = session.get(Campaign, (shop.id, created.json["id"]))
        messages = session.scalars(select(Message).where(Message.campaign_id == campaign.id)).all()
        alerts = session.scalars(select(ShopAlert.code).where(ShopAlert.campaign_id == campaign.id)).all()
    refused = meta.truth()["refused"]["131053"]
    assert campaign.halted_code == "131053" and alerts == ["131053"]
    assert {m.error_code for m in messages} == {"131053"} and all(m.status == "failed" for m in messages)
    assert 3 <= refused < len(messages)
