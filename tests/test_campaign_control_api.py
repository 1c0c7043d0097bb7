"""Control of a campaign before it sends, through the API: unschedule, delete a draft,
duplicate, schedule in the shop's time zone, the launch summary the confirmation shows (with US
numbers left out in one call), and refusals in words a merchant reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.models import Campaign, Shop
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer


def _customers(make, shop):
    """Two Spanish numbers, two US numbers and one Canadian (+1, not paused by WhatsApp)."""
    for phone in ("+34612000001", "+34612000002", "+12125550101", "+13105550102", "+14165550103"):
        make.customer(shop, phone=phone, phone_e164=phone)


def _create(client, **overrides):
    body = {
        "name": "Spring sale",
        "template": {"name": "personal_offer", "language": "en"},
        "parameters": [{"field": "first_name", "fallback": "friend"}, {"text": "SPRING15"}],
    }
    body.update(overrides)
    return client.post("/api/campaigns", json=body, headers=bearer())


def _schedule(client, campaign_id, **body):
    return client.post(f"/api/campaigns/{campaign_id}/schedule", json=body, headers=bearer())


def test_a_scheduled_campaign_can_go_back_to_draft_and_be_edited(client, make, meta):
    _customers(make, whatsapp_shop(make))
    campaign_id = _create(client).json["id"]
    at = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    assert _schedule(client, campaign_id, scheduled_at=at.isoformat()).json["status"] == "SCHEDULED"
    edit = client.put(
        f"/api/campaigns/{campaign_id}",
        json={"name": "Edited", "template": {"name": "order_update", "language": "en"}},
        headers=bearer(),
    )
    assert edit.status_code == 409  # a scheduled campaign is unscheduled first
    back = client.post(f"/api/campaigns/{campaign_id}/unschedule", headers=bearer())
    assert back.status_code == 200 and back.json["status"] == "DRAFT" and back.json["scheduled_at"] is None
    edit = client.put(
        f"/api/campaigns/{campaign_id}",
        json={"name": "Edited", "template": {"name": "order_update", "language": "en"}},
        headers=bearer(),
    )
    assert edit.status_code == 200 and edit.json["name"] == "Edited"
    again = client.post(f"/api/campaigns/{campaign_id}/unschedule", headers=bearer())
    assert again.status_code == 409 and "not scheduled" in again.json["message"]


def test_a_draft_can_be_deleted_and_a_sent_campaign_cannot(client, make, meta):
    shop = whatsapp_shop(make)
    _customers(make, shop)
    campaign_id = _create(client).json["id"]
    sent = make.campaign(shop, "Sent one", status="SENT")
    assert client.delete(f"/api/campaigns/{sent.id}", headers=bearer()).status_code == 409
    assert client.delete(f"/api/campaigns/{campaign_id}", headers=bearer()).status_code == 204
    assert client.get(f"/api/campaigns/{campaign_id}", headers=bearer()).status_code == 404
    other = make.shop("other.myshopify.com")
    theirs = make.campaign(other, "Theirs", status="DRAFT")
    assert client.delete(f"/api/campaigns/{theirs.id}", headers=bearer()).status_code == 404
    with Session(make.engine) as session:
        assert session.get(Campaign, (other.id, theirs.id)) is not None


def test_any_campaign_can_be_duplicated_as_a_new_draft(client, make, meta):
    shop = whatsapp_shop(make)
    _customers(make, shop)
    original = _create(client, audience={"include_tags": [], "exclude_tags": ["wholesale"]}).json
    first = client.post(f"/api/campaigns/{original['id']}/duplicate", headers=bearer())
    second = client.post(f"/api/campaigns/{original['id']}/duplicate", headers=bearer())
    assert first.status_code == 201 and second.status_code == 201
    assert (first.json["name"], second.json["name"]) == ("Spring sale (copy)", "Spring sale (copy 2)")
    assert first.json["status"] == "DRAFT" and first.json["template"] == original["template"]
    assert first.json["components"] == original["components"]
    with Session(make.engine) as session:
        copy = session.get(Campaign, (shop.id, first.json["id"]))
        assert copy.audience == {"include_tags": [], "exclude_tags": ["wholesale"]}


def test_a_schedule_in_the_shops_time_zone(client, make, meta):
    """10:00 typed in the composer is 10:00 in the shop's zone, whatever the browser's."""
    shop = whatsapp_shop(make, timezone="America/New_York")
    _customers(make, shop)
    campaign_id = _create(client).json["id"]
    day = (datetime.now(UTC) + timedelta(days=3)).date()
    answer = _schedule(client, campaign_id, scheduled_local=f"{day}T10:00")
    assert answer.status_code == 200, answer.json
    at = datetime.fromisoformat(answer.json["scheduled_at"]).astimezone(ZoneInfo("America/New_York"))
    assert (at.date(), at.hour, at.minute) == (day, 10, 0)


def test_a_past_or_skipped_time_is_a_422_in_words(client, make, meta):
    shop = whatsapp_shop(make, timezone="Europe/Madrid")
    _customers(make, shop)
    campaign_id = _create(client).json["id"]
    past = _schedule(client, campaign_id, scheduled_local="2020-01-01T10:00")
    assert past.status_code == 422
    assert past.json["errors"] == [
        {
            "field": "scheduled_at",
            "message": "This time has already passed: choose a time at least a minute from now.",
        }
    ]
    year = datetime.now(UTC).year + 1
    sunday = max(d for d in (datetime(year, 3, day) for day in range(25, 32)) if d.weekday() == 6)
    skipped = _schedule(
        client, campaign_id, scheduled_local=f"{sunday:%Y-%m-%d}T02:30"
    )  # clocks go 2:00 -> 3:00
    assert skipped.status_code == 422 and "clocks go forward" in skipped.json["errors"][0]["message"]
    neither = _schedule(client, campaign_id)
    assert neither.status_code == 422 and neither.json["errors"][0]["field"] == "scheduled_at"
    with Session(make.engine) as session:
        assert session.get(Campaign, (shop.id, campaign_id)).status == "DRAFT"


def test_the_launch_summary_counts_us_numbers_cost_and_credits(client, make, meta):
    """A marketing campaign: 5 recipients, 2 of them US numbers (the Canadian one is not);
    leaving them out through the estimate leaves 3, and the summary follows."""
    shop = whatsapp_shop(make, credits=4)
    _customers(make, shop)
    campaign_id = _create(client).json["id"]
    summary = client.get(f"/api/campaigns/{campaign_id}/launch-summary", headers=bearer()).json
    assert (summary["recipients"], summary["us_recipients"]) == (5, 2)
    assert (summary["credits"], summary["credits_needed"], summary["credits_after"]) == (4, 5, -1)
    assert summary["estimated_cost"]["currency"] == "USD" and float(summary["estimated_cost"]["amount"]) > 0
    left_out = client.post(
        f"/api/campaigns/{campaign_id}/estimate",
        json={"audience": {**summary["audience"], "exclude_us_numbers": True}},
        headers=bearer(),
    )
    assert left_out.json["estimated_audience"] == 3 and left_out.json["us_recipients"] == 0
    after = client.get(f"/api/campaigns/{campaign_id}/launch-summary", headers=bearer()).json
    assert (after["recipients"], after["us_recipients"], after["credits_after"]) == (3, 0, 1)
    assert after["estimated_cost"] == summary["estimated_cost"]  # the US numbers were never billed
    with Session(make.engine) as session:
        assert session.get(Shop, shop.id).credits == 4  # a summary takes nothing


def test_a_utility_campaign_reaches_us_numbers(client, make, meta):
    _customers(make, whatsapp_shop(make))
    campaign_id = _create(client, template={"name": "order_update", "language": "en"}, parameters=[]).json[
        "id"
    ]
    summary = client.get(f"/api/campaigns/{campaign_id}/launch-summary", headers=bearer()).json
    assert (summary["recipients"], summary["us_recipients"]) == (5, 0)


def test_refusals_read_as_a_merchant_would(client, make, meta):
    _customers(make, whatsapp_shop(make))
    nameless = _create(client, name="")
    assert nameless.status_code == 422
    assert nameless.json["errors"] == [{"field": "name", "message": "Give the campaign a name."}]
    image = {"name": "spring_lookbook", "language": "en"}

    def header(link):
        return _create(
            client,
            name="Looks",
            template=image,
            parameters=[],
            components=[
                {"type": "header", "parameters": [{"type": "image", "image": {"link": link}}]},
                {"type": "body", "parameters": [{"text": "Ana"}, {"text": "SPRING"}]},
                {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"text": "spring"}]},
            ],
        )

    plain = header("http://cdn.example.com/a.jpg")
    assert plain.status_code == 422
    assert {
        "field": "components.header.parameters[0]",
        "message": "The image link must start with https://",
    } in plain.json["errors"]
    pdf = header("https://cdn.example.com/lookbook.pdf")
    assert pdf.status_code == 422
    assert "This link is a PDF" in pdf.json["errors"][0]["message"]
    assert header("https://cdn.example.com/a.jpg").status_code == 201


def test_a_send_agains_copy_stays_in_its_family(client, make, meta):
    """A copy of a send again keeps ``follow_up_of``: it leaves out whom the family sent to."""
    shop = whatsapp_shop(make)
    first = make.campaign(shop, "First", status="SENT")
    again = make.campaign(shop, "First (send again)", status="DRAFT", follow_up_of=first.id)
    copy = client.post(f"/api/campaigns/{again.id}/duplicate", headers=bearer())
    assert copy.status_code == 201 and copy.json["follow_up_of"] == first.id
    plain = client.post(f"/api/campaigns/{first.id}/duplicate", headers=bearer())
    assert plain.json["follow_up_of"] is None and plain.json["name"] == "First (copy)"


def test_templates_say_which_buttons_take_a_tracked_link(client, make, meta):
    """Only a URL button of the form {SHOPIFY_APP_URL}/r/{{1}} takes a tracked link: the
    template list says which, and a tracked link on another button is refused by name."""
    _customers(make, whatsapp_shop(make))
    templates = {t["name"]: t for t in client.get("/api/templates", headers=bearer()).json["templates"]}
    assert templates["tracked_offer"]["trackable_buttons"] == [0]
    assert templates["spring_lookbook"]["trackable_buttons"] == []
    tracked = {"track": "https://demo.myshopify.com/collections/spring"}
    body = {"type": "body", "parameters": [{"text": "Ana"}]}
    ok = _create(
        client,
        name="Tracked",
        template={"name": "tracked_offer", "language": "en"},
        parameters=[],
        components=[body, {"type": "button", "sub_type": "url", "index": "0", "parameters": [tracked]}],
    )
    assert ok.status_code == 201, ok.json
    refused = _create(
        client,
        name="Not trackable",
        template={"name": "spring_lookbook", "language": "en"},
        parameters=[],
        components=[
            {
                "type": "header",
                "parameters": [{"type": "image", "image": {"link": "https://cdn.example.com/a.jpg"}}],
            },
            {"type": "body", "parameters": [{"text": "Ana"}, {"text": "SPRING"}]},
            {"type": "button", "sub_type": "url", "index": "0", "parameters": [tracked]},
        ],
    )
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json["errors"]] == ["components.button[0]"]
    assert "a tracked link needs a template button whose URL is" in refused.json["errors"][0]["message"]


def test_other_shops_campaigns_do_not_exist_for_the_new_actions(client, make, meta):
    whatsapp_shop(make)
    other = make.shop("other.myshopify.com")
    theirs = make.campaign(
        other, "Theirs", status="SCHEDULED", scheduled_at=datetime.now(UTC) + timedelta(days=1)
    )
    for method, path in (
        ("post", "unschedule"),
        ("post", "duplicate"),
        ("get", "launch-summary"),
    ):
        assert (
            getattr(client, method)(f"/api/campaigns/{theirs.id}/{path}", headers=bearer()).status_code == 404
        )
    with Session(make.engine) as session:
        assert session.get(Campaign, (other.id, theirs.id)).status == "SCHEDULED"
