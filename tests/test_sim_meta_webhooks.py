"""The Meta stand-in's webhooks beyond delivery: the pricing category of the template's category,
account-level errors and template status updates, posted signed to the real app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import InboxEvent, Message, ShopAlert
from sim.meta.emit import BUILDERS
from tests.browser import serve
from tests.meta_openapi import validate_meta_schema
from tests.meta_stand_in import PHONE_NUMBER_ID, whatsapp_shop
from tests.tokens import bearer


def _rows(make, query) -> list:
    with Session(make.engine) as session:
        return list(session.scalars(query))


def test_statuses_carry_the_pricing_category_of_the_templates_category(app, client, make, meta, run_jobs):
    """A utility campaign's statuses are priced as utility, not marketing."""
    shop = whatsapp_shop(make)
    for n in range(3):
        make.customer(shop, phone=f"+3461400000{n}", phone_e164=f"+3461400000{n}")
    with serve(app) as app_url:
        meta.configure(
            webhook_url=f"{app_url}/webhooks/meta", delivery={"failed": 0.0, "failed_then_delivered": 0.0}
        )
        created = client.post(
            "/api/campaigns",
            json={"name": "Delays", "template": {"name": "order_update", "language": "en"}},
            headers=bearer(),
        )
        assert client.post(f"/api/campaigns/{created.json['id']}/launch", headers=bearer()).status_code == 202
        run_jobs()
        meta.wait_until_posted()
        run_jobs()
    messages = _rows(make, select(Message).where(Message.shop_id == shop.id))
    assert len(messages) == 3 and {m.pricing_category for m in messages} == {"utility"}


def test_account_errors_and_template_status_updates_reach_the_app_signed(app, make, meta, run_jobs):
    """An account-level value.errors becomes a shop alert; a template status update is routed by
    the account it names (no phone number) and, with no campaign sending the template, raises
    the template's own alert."""
    shop = whatsapp_shop(make)
    with serve(app) as app_url:
        meta.configure(webhook_url=f"{app_url}/webhooks/meta")
        for request in (
            {"kind": "account_error", "code": 131042, "title": "Business eligibility payment issue"},
            {"kind": "template_status", "event": "PAUSED", "name": "weekly_offer", "category": "MARKETING"},
        ):
            answer = meta.http.post(
                f"{meta.url}/sim/emit", json={"phone_number_id": PHONE_NUMBER_ID, **request}
            )
            assert answer.status_code == 200, answer.text
        run_jobs()
    # Two events, one drain: which row is written first is not part of the contract.
    alerts = _rows(make, select(ShopAlert).where(ShopAlert.shop_id == shop.id))
    assert sorted((a.code, a.title) for a in alerts) == [
        ("131042", "Business eligibility payment issue"),
        ("TEMPLATE_STOPPED", "Template weekly_offer paused by Meta"),
    ]
    assert len(_rows(make, select(InboxEvent))) == 2
    bad = meta.http.post(f"{meta.url}/sim/emit", json={"kind": "nope", "phone_number_id": PHONE_NUMBER_ID})
    assert bad.status_code == 400


def test_free_pricing_types_and_contacts_reach_the_app_as_meta_sends_them(app, client, make, meta, run_jobs):
    """A campaign Meta prices free (an entry point): its statuses say free_entry_point and not
    billable, and their bodies name the recipients in contacts[] (never on failed)."""
    shop = whatsapp_shop(make)
    for n in range(3):
        make.customer(shop, phone=f"+3461500000{n}", phone_e164=f"+3461500000{n}")
    with serve(app) as app_url:
        meta.configure(
            webhook_url=f"{app_url}/webhooks/meta",
            delivery={
                "failed": 0.0,
                "failed_then_delivered": 0.0,
                "username_share": 0.0,
                "free_entry_point": 1.0,
            },
        )
        created = client.post(
            "/api/campaigns",
            json={"name": "Entry", "template": {"name": "order_update", "language": "en"}},
            headers=bearer(),
        )
        assert client.post(f"/api/campaigns/{created.json['id']}/launch", headers=bearer()).status_code == 202
        run_jobs()
        meta.wait_until_posted()
        run_jobs()
    messages = _rows(make, select(Message).where(Message.shop_id == shop.id))
    assert {(m.pricing_type, m.pricing_billable) for m in messages} == {("free_entry_point", False)}
    values = [
        change["value"]
        for event in _rows(make, select(InboxEvent))
        for entry in json.loads(event.body)["entry"]
        for change in entry["changes"]
    ]
    named = {c["wa_id"] for v in values for c in v.get("contacts", [])}
    assert named == {f"3461500000{n}" for n in range(3)}


PYWA = Path(__file__).parent / "fixtures" / "meta" / "pywa"
ACCOUNT = {"waba_id": "5550001", "display": "+1 555-000-1234"}


def _pywa_value(file: str, scenario: str) -> tuple[str, dict]:
    change = json.loads((PYWA / f"{file}.json").read_text())[scenario]["entry"][0]["changes"][0]
    return change["field"], change["value"]


def _shape(value: object) -> object:
    """A body's keys, nested, with each leaf's type: two bodies of one shape compare equal."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


@pytest.mark.parametrize(
    ("kind", "request_", "file", "scenario"),
    [
        (
            "template_status",
            {"event": "APPROVED", "name": "weekly_offer", "category": "UTILITY"},
            "template_status_update",
            "approved",
        ),
        ("template_quality", {"name": "weekly_offer"}, "template_quality_update", "yellow"),
        ("account_update", {"event": "ACCOUNT_RESTRICTION"}, "account_update", "account_restriction"),
        ("account_update", {"event": "ACCOUNT_VIOLATION"}, "account_update", "account_violation"),
        ("account_update", {"event": "DISABLED_UPDATE"}, "account_update", "account_disabled"),
    ],
)
def test_the_stand_ins_account_webhooks_have_the_shape_of_metas_examples(kind, request_, file, scenario):
    """Each account-level body the stand-in posts has the field and shape of the real example
    pywa recorded from Meta (the OpenAPI description has no webhook schemas)."""
    field, value = BUILDERS[kind](request_, PHONE_NUMBER_ID, ACCOUNT)
    real_field, real = _pywa_value(file, scenario)
    assert field == real_field and _shape(value) == _shape(real)


def test_the_stand_ins_preferences_and_account_errors_have_metas_shape():
    """A stop by phone number has the keys of pywa's real preference body (its signup_id and
    parent_user_id aside, which a stop by phone does not carry); an account error's error object
    fits the OpenAPI's StatusError."""
    field, value = BUILDERS["user_preferences"](
        {"wa_id": "34612345678", "value": "stop"}, PHONE_NUMBER_ID, ACCOUNT
    )
    real_field, real = _pywa_value("user_marketing_preferences", "resume")
    assert field == real_field and set(value) == set(real)
    assert set(value["user_preferences"][0]) == set(real["user_preferences"][0])
    assert set(value["contacts"][0]) <= set(real["contacts"][0])
    field, value = BUILDERS["account_error"]({"code": 131048}, PHONE_NUMBER_ID, ACCOUNT)
    assert field == "messages" and set(value) == {"messaging_product", "metadata", "errors"}
    validate_meta_schema(value["errors"][0], "StatusError")
