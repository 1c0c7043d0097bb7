"""The Meta stand-in's webhooks beyond delivery: the pricing category of the template's category,
account-level errors and template status updates, posted signed to the real app."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import InboxEvent, Message, ShopAlert
from tests.browser import serve
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
    import json

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
