"""The campaign lifecycle through the API: create, estimate, launch checks, launch, schedule,
cancel, and progress, against the Meta stand-in's template list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.campaigns.launch import LifecycleError, ask_meta, launch
from core.models import Campaign, Shop, ShopAlert
from jobs.launch import launch_scheduled_campaign
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer


def _audience(make, shop):
    """Five subscribed customers (one VIP wholesaler, two sharing a phone) and two who are not."""
    make.customer(shop, phone="+34612000001", phone_e164="+34612000001", tags=["vip"])
    make.customer(shop, phone="+34612000002", phone_e164="+34612000002", tags=["vip", "wholesale"])
    make.customer(shop, phone="+34612000003", phone_e164="+34612000003")
    make.customer(shop, phone="+34 612 000 003", phone_e164="+34612000003")  # the same number again
    make.customer(shop, phone="612000004", country_code="ES")  # no calling code: still a recipient
    make.customer(shop, phone="+34612000005", phone_e164="+34612000005", consent="UNSUBSCRIBED")
    make.customer(shop, phone="+34612000006", phone_e164="+34612000006", consent="PENDING")


def _create(client, **overrides):
    body = {
        "name": "Spring sale",
        "template": {"name": "personal_offer", "language": "en"},
        "parameters": [{"field": "first_name", "fallback": "friend"}, {"text": "SPRING15"}],
    }
    body.update(overrides)
    return client.post("/api/campaigns", json=body, headers=bearer())


def test_a_draft_takes_its_type_from_the_template_and_estimates_its_reach(client, make, meta):
    """Created from Meta's template list: promotional for a marketing template; the reach is the
    subscribed customers, one per phone number."""
    _audience(make, whatsapp_shop(make))
    response = _create(client)
    assert response.status_code == 201, response.json
    campaign = response.json
    assert (campaign["status"], campaign["type"], campaign["estimated_audience"]) == (
        "DRAFT",
        "PROMOTIONAL",
        4,
    )
    utility = _create(
        client, name="Delays", template={"name": "order_update", "language": "en"}, parameters=[]
    )
    catalog = _create(
        client, name="New in", template={"name": "new_arrivals_catalog", "language": "en"}, parameters=[]
    )
    assert (utility.json["type"], catalog.json["type"]) == ("INFORMATIONAL", "CATALOG")


def test_the_estimate_follows_the_tags_and_exclusion_wins(client, make, meta):
    """Include VIPs, exclude wholesale: the VIP wholesaler is out."""
    _audience(make, whatsapp_shop(make))
    campaign_id = _create(client).json["id"]
    response = client.post(
        f"/api/campaigns/{campaign_id}/estimate",
        json={"audience": {"include_tags": ["vip"], "exclude_tags": ["wholesale"]}},
        headers=bearer(),
    )
    assert response.status_code == 200
    assert response.json["estimated_audience"] == 1
    assert client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json["estimated_audience"] == 1


def test_tags_match_in_any_case_and_are_kept_in_the_shops_spelling(client, make, meta):
    """A rule typed "VIP" / "WHOLESALE" reaches the customers tagged "vip" / "wholesale", and the
    draft stores the shop's spelling, so launching reads the same customers."""
    _audience(make, whatsapp_shop(make))
    created = _create(client, audience={"include_tags": ["VIP"], "exclude_tags": ["WHOLESALE", "Nobody"]})
    assert created.json["estimated_audience"] == 1
    with Session(make.engine) as session:
        stored = session.scalar(select(Campaign).where(Campaign.id == created.json["id"]))
    assert stored.audience["include_tags"] == ["vip"]
    assert stored.audience["exclude_tags"] == ["wholesale", "Nobody"]  # no customer's tag: kept as typed


def test_bad_drafts_name_each_problem(client, make, meta):
    """An unknown template, an authentication template, parameters that do not fit and a name
    already taken are each refused with 422 and the field at fault."""
    whatsapp_shop(make)
    _create(client)
    cases = [
        ({"name": "x", "template": {"name": "nope", "language": "en"}}, "template"),
        ({"name": "y", "template": {"name": "login_code", "language": "en"}}, "template"),
        ({"name": "z", "parameters": [{"text": "only one"}]}, "parameters"),
        ({"name": "w", "parameters": [{"field": "email"}, {"text": "x"}]}, "parameters"),
        ({}, "name"),
        ({"template": "weekly_offer"}, "template"),
    ]
    for overrides, field in cases:
        response = _create(client, **overrides)
        assert response.status_code == 422, (overrides, response.json)
        assert field in {e["field"].split(".")[0] for e in response.json["errors"]}, response.json


def test_launch_names_every_failed_check(client, make, meta):
    """A paused template, nobody subscribed in the audience and too few credits: three checks,
    each with its own sentence, and the campaign stays a draft."""
    shop = whatsapp_shop(make, credits=0)
    _audience(make, shop)
    campaign_id = _create(client, template={"name": "weekly_offer", "language": "en"}, parameters=[]).json[
        "id"
    ]
    meta.configure(
        templates=[dict(t, status="PAUSED") if t["name"] == "weekly_offer" else t for t in _templates(meta)]
    )
    response = client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer())
    assert response.status_code == 422
    checks = {e["check"]: e["message"] for e in response.json["errors"]}
    assert set(checks) == {"template_approved", "credits"}
    assert "paused" in checks["template_approved"] and "4 credits" in checks["credits"]
    client.post(
        f"/api/campaigns/{campaign_id}/estimate",
        json={"audience": {"include_tags": ["nobody"]}},
        headers=bearer(),
    )
    response = client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer())
    assert {e["check"] for e in response.json["errors"]} == {"template_approved", "audience"}
    assert client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).json["status"] == "DRAFT"


def _templates(meta):
    return meta.http.get(f"{meta.url}/sim/config").json()["templates"]


def test_launch_starts_dispatch_once(client, make, meta):
    """A passing launch answers 202 with the campaign PENDING; launching again is a conflict."""
    _audience(make, whatsapp_shop(make))
    campaign_id = _create(client).json["id"]
    response = client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer())
    assert response.status_code == 202, response.json
    assert response.json["status"] == "PENDING" and response.json["launched_at"]
    again = client.post(f"/api/campaigns/{campaign_id}/launch", headers=bearer())
    assert again.status_code == 409 and "PENDING" in again.json["message"]
    assert client.post(f"/api/campaigns/{campaign_id}/cancel", headers=bearer()).status_code == 409


def test_schedule_then_cancel(client, make, meta):
    """A scheduled campaign keeps its time and can be cancelled; past times are refused."""
    _audience(make, whatsapp_shop(make))
    campaign_id = _create(client).json["id"]
    past = client.post(
        f"/api/campaigns/{campaign_id}/schedule",
        json={"scheduled_at": "2020-01-01T00:00:00+00:00"},
        headers=bearer(),
    )
    # A past time is a bad request, not a conflict with the campaign's state (issue 26).
    assert past.status_code == 422
    assert past.json["errors"][0]["field"] == "scheduled_at"
    assert "already passed" in past.json["errors"][0]["message"]
    naive = client.post(
        f"/api/campaigns/{campaign_id}/schedule",
        json={"scheduled_at": "2030-01-01T00:00:00"},
        headers=bearer(),
    )
    assert naive.status_code == 422
    at = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    response = client.post(
        f"/api/campaigns/{campaign_id}/schedule", json={"scheduled_at": at.isoformat()}, headers=bearer()
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "SCHEDULED"
    assert datetime.fromisoformat(response.json["scheduled_at"]) == at
    cancelled = client.post(f"/api/campaigns/{campaign_id}/cancel", headers=bearer())
    assert cancelled.status_code == 200 and cancelled.json["status"] == "CANCELLED"


def test_a_scheduled_campaign_that_fails_its_checks_when_due_returns_to_draft(client, make, meta):
    """Meta paused the template after scheduling: at the due time the campaign is not sent, goes
    back to DRAFT and the merchant gets an alert naming the check."""
    shop = whatsapp_shop(make)
    _audience(make, shop)
    campaign_id = _create(client).json["id"]
    at = datetime.now(UTC) + timedelta(minutes=5)
    client.post(
        f"/api/campaigns/{campaign_id}/schedule", json={"scheduled_at": at.isoformat()}, headers=bearer()
    )
    meta.configure(templates=[dict(t, status="PAUSED") for t in _templates(meta)])
    with Session(make.engine) as session:
        scheduled_at = session.get(Campaign, (shop.id, campaign_id)).scheduled_at
    assert launch_scheduled_campaign(shop.id, campaign_id, scheduled_at.isoformat()) is False
    with Session(make.engine) as session:
        assert session.get(Campaign, (shop.id, campaign_id)).status == "DRAFT"
        alert = session.scalar(select(ShopAlert).where(ShopAlert.shop_id == shop.id))
    assert alert.code == "LAUNCH_CHECKS_FAILED" and "paused" in alert.details


def test_another_shops_campaign_cannot_be_acted_on(client, make, meta):
    """Every action is scoped to the session token's shop: another shop's campaign is a 404."""
    other = make.shop("other.myshopify.com")
    whatsapp_shop(make)
    foreign = make.campaign(other, status="DRAFT")
    for action in ("launch", "schedule", "cancel", "estimate"):
        assert (
            client.post(f"/api/campaigns/{foreign.id}/{action}", json={}, headers=bearer()).status_code == 404
        )
    assert client.get(f"/api/campaigns/{foreign.id}/progress", headers=bearer()).status_code == 404


def test_templates_are_listed_with_the_campaign_type_they_give(client, make, meta):
    """The picker's list comes from Meta, with status, parameter count and campaign type."""
    whatsapp_shop(make)
    templates = {t["name"]: t for t in client.get("/api/templates", headers=bearer()).json["templates"]}
    assert templates["personal_offer"]["parameters"] == 2
    assert templates["new_arrivals_catalog"]["campaign_type"] == "CATALOG"
    assert templates["paused_promo"]["status"] == "PAUSED"
    assert templates["login_code"]["campaign_type"] is None


def test_the_cli_launches_a_draft_by_name(runner, make, meta, run_jobs):
    """`flask --app web campaigns launch NAME --shop DOMAIN` runs the same checks, then sends."""
    shop = whatsapp_shop(make)
    _audience(make, shop)
    make.campaign(shop, "Demo", status="DRAFT", template_name="weekly_offer")
    failed = runner.invoke(args=["campaigns", "launch", "Nope", "--shop", shop.domain])
    assert failed.exit_code != 0 and "no campaign named 'Nope'" in failed.output
    result = runner.invoke(args=["campaigns", "launch", "Demo", "--shop", shop.domain])
    assert result.exit_code == 0, result.output
    assert "launched to 4 recipients" in result.output
    run_jobs()
    assert len(meta.truth()["messages"]) == 3  # the fourth recipient has no calling code
    again = runner.invoke(args=["campaigns", "launch", "Demo", "--shop", shop.domain])
    assert again.exit_code != 0 and "PENDING" in again.output


def test_metas_answer_about_choices_the_draft_no_longer_has_is_refused(client, make, meta):
    """Meta is asked with no transaction open; if the draft's values change before the launch
    locks it, the answer is about another message and the launch is refused, not made."""
    shop = whatsapp_shop(make)
    _audience(make, shop)
    campaign_id = _create(client).json["id"]
    with Session(make.engine) as session:
        answer = ask_meta(session.get(Shop, shop.id), session.get(Campaign, (shop.id, campaign_id)))
    assert answer.failures == [] and answer.template.name == "personal_offer"
    with Session(make.engine) as session:  # the merchant edits the draft meanwhile
        session.get(Campaign, (shop.id, campaign_id)).template_parameters = [{"text": "OTHER"}]
        session.commit()
    with Session(make.engine) as session:
        campaign = session.get(Campaign, (shop.id, campaign_id))
        with pytest.raises(LifecycleError, match="changed while it was checked"):
            launch(session, session.get(Shop, shop.id), campaign, answer)
        session.rollback()
        assert session.get(Campaign, (shop.id, campaign_id)).status == "DRAFT"
