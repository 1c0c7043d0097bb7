"""The campaign composer in headless chromium against a real server and the Meta stand-in:
choose an approved template, fill its header, body and button, watch the preview and the
estimate, see a refusal next to its field, launch, and edit a draft."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core.models import Campaign
from tests.browser import app_tab, open_embedded, screenshot
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"
IMAGE = "https://cdn.shop.example.com/spring.jpg"


@pytest.fixture
def page(meta):
    with app_tab({"LIVE_POLL_MS": 300}, height=1400) as tab:
        yield tab


def _open(page, path: str) -> None:
    open_embedded(page, path, SHOP)


def _shop_with_customers(make):
    shop = whatsapp_shop(make)
    for n, (name, tags) in enumerate([("Ana", ["vip"]), ("Ben", ["vip"]), ("Cy", [])]):
        make.customer(shop, first_name=name, tags=tags, phone=f"+3461200000{n}", phone_e164=f"+3461200000{n}")
    return shop


def _parameter(page, component: str, n: int):
    return page.locator(f'[data-component="{component}"] [data-parameter]').nth(n)


def test_compose_refuse_then_launch_a_campaign_with_header_body_and_button(page, make, meta, run_jobs):
    """The body takes the customer's first name and a code, the link its suffix; without the
    header image the launch is refused next to the header; with it the campaign launches
    and every tagged recipient is sent all three."""
    shop = _shop_with_customers(make)
    _open(page, "/campaigns/new")
    page.get_by_label("Name").fill("Spring looks")
    page.get_by_label("Template (approved in WhatsApp Manager)").select_option(
        label="spring_lookbook (en) · marketing"
    )
    first, second = _parameter(page, "components.body", 0), _parameter(page, "components.body", 1)
    first.locator("[data-mode]").select_option(label="Customer's first name")
    first.locator("[data-value]").fill("there")
    second.locator("[data-value]").fill("SPRING10")
    _parameter(page, "components.button[0]", 0).locator("[data-value]").fill("looks/spring")
    page.get_by_label("Only customers tagged").fill("vip")
    page.locator("[data-estimate-count]").filter(has_text="2").wait_for()
    page.locator("[data-preview-body]").filter(
        has_text="Hi Ana, the spring collection is here. Use SPRING10"
    ).wait_for()

    page.get_by_role("button", name="Launch now").click()
    refusal = page.locator('[data-error-for="components.header"]')
    refusal.wait_for()
    assert "image" in refusal.inner_text()
    assert client_campaigns(make, shop) == []

    page.get_by_label("Link to the image (https, hosted by you)").fill(IMAGE)
    page.get_by_role("button", name="Launch now").click()
    page.get_by_role("button", name="Launch to 2 recipients").click()  # the confirmation (issue 26)
    page.locator("[data-live-status]").filter(has_text="Live").wait_for()
    screenshot(page, "composer-launched")
    run_jobs()
    truth = meta.truth()["messages"]
    assert sorted(f["components"]["body"]["parameters"][0]["text"] for f in truth.values()) == ["Ana", "Ben"]
    for fate in truth.values():
        assert fate["components"]["header"]["parameters"][0]["image"]["link"] == IMAGE
        assert fate["components"]["button[0]"]["parameters"][0]["text"] == "looks/spring"


def client_campaigns(make, shop) -> list:
    with Session(make.engine) as session:
        return list(session.query(Campaign).filter(Campaign.shop_id == shop.id))


def test_edit_a_draft_through_the_same_checks(page, client, make, meta):
    """A saved draft opens with its values; a change is saved with the same checks, and the
    page then shows the draft under its new name."""
    shop = _shop_with_customers(make)
    body = [{"type": "body", "parameters": [{"field": "first_name", "fallback": "x"}, {"text": "CODE1"}]}]
    created = client.post(
        "/api/campaigns",
        json={"name": "Offer", "template": {"name": "personal_offer", "language": "en"}, "components": body},
        headers=bearer(),
    )
    assert created.status_code == 201, created.json
    _open(page, f"/campaigns/{created.json['id']}/edit")
    code = _parameter(page, "components.body", 1).locator("[data-value]")
    assert code.input_value() == "CODE1"
    page.get_by_label("Name").fill("Offer, take two")
    code.fill("CODE2")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("heading", name="Offer, take two").wait_for()
    (campaign,) = client_campaigns(make, shop)
    assert campaign.status == "DRAFT" and campaign.template_components[0]["parameters"][1]["text"] == "CODE2"


def test_a_holdout_set_in_the_composer_is_checked_kept_and_reported_on_the_campaign_page(
    page, client, make, meta, run_jobs
):
    """A holdout over half the audience is refused beside its field before anything is saved;
    a valid one is saved with the draft, announced on its page, and once sent the page shows
    both groups and says when there are too few customers for an interval."""
    shop = _shop_with_customers(make)
    _open(page, "/campaigns/new")
    page.get_by_label("Name").fill("Held back")
    page.get_by_label("Template (approved in WhatsApp Manager)").select_option(
        label="weekly_offer (en) · marketing"
    )
    page.get_by_label("Hold out (percent of the audience)").fill("70")
    page.get_by_role("button", name="Save draft").click()
    refusal = page.locator('[data-error-for="holdout"]')
    refusal.wait_for()
    assert refusal.inner_text() == "The holdout is a whole percent from 0 to 50."
    assert client_campaigns(make, shop) == []

    page.get_by_label("Hold out (percent of the audience)").fill("50")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("heading", name="Held back").wait_for()
    (campaign,) = client_campaigns(make, shop)
    assert campaign.holdout_share == 50
    section = page.locator("#region-holdout")
    assert "50% of the audience will be held out at random" in section.inner_text()

    assert client.post(f"/api/campaigns/{campaign.id}/launch", headers=bearer()).status_code == 202
    run_jobs()
    _open(page, f"/campaigns/{campaign.id}")
    held = client.get(f"/api/campaigns/{campaign.id}", headers=bearer()).json["holdout"]["customers"]
    assert page.locator('[data-holdout="customers"]').inner_text() == str(held)
    assert page.locator('[data-holdout="incremental"]').inner_text().startswith("Not enough data yet")
    download = page.get_by_role("link", name="Download the held-out customers (CSV)")
    assert "/holdout.csv" in download.get_attribute("href")


def test_an_ab_campaign_page_shows_each_variant_and_names_no_winner_early(page, client, make, meta, run_jobs):
    """Two variants sent to three customers: the page lists both with their own template and
    figures, and says there is not enough data to compare them rather than naming a winner."""
    _shop_with_customers(make)
    body = [{"type": "body", "parameters": [{"field": "first_name", "fallback": "x"}, {"text": "AB1"}]}]
    created = client.post(
        "/api/campaigns",
        json={
            "name": "Which one",
            "variants": [
                {"name": "Plain", "template": {"name": "weekly_offer", "language": "en"}, "share": 50},
                {
                    "name": "Personal",
                    "template": {"name": "personal_offer", "language": "en"},
                    "components": body,
                    "share": 50,
                },
            ],
        },
        headers=bearer(),
    )
    assert created.status_code == 201, created.json
    assert client.post(f"/api/campaigns/{created.json['id']}/launch", headers=bearer()).status_code == 202
    run_jobs()
    _open(page, f"/campaigns/{created.json['id']}")
    rows = page.locator("#region-variants tbody tr")
    assert rows.count() == 2
    assert (
        "weekly_offer (en)" in rows.nth(0).inner_text() and "personal_offer (en)" in rows.nth(1).inner_text()
    )
    api = client.get(f"/api/campaigns/{created.json['id']}", headers=bearer()).json["variants"]
    assert [rows.nth(i).locator("td").nth(2).inner_text() for i in range(2)] == [
        str(v["metrics"]["sent"]) for v in api
    ]
    verdict = page.locator("[data-experiment]")
    assert verdict.get_attribute("data-experiment") == "not_enough_data"
    assert verdict.inner_text().startswith("Not enough data yet")
    assert page.locator("#region-variants s-badge").count() == 0
    # The chart draws a bar per variant once any has a value on the metric.
    drawn = any(v["value"] for v in api)
    assert page.locator("[data-variant-bar]").count() == (2 if drawn else 0)


def test_an_ab_test_with_send_time_per_customer_is_composed_saved_and_edited(page, client, make, meta):
    """Version A is the template above, version B another template with its own parameters; the
    shares are checked by the API beside the variants; each customer's hour is previewed; the
    saved draft opens again with both versions and the send time as they were."""
    shop = _shop_with_customers(make)
    _open(page, "/campaigns/new")
    page.get_by_label("Name").fill("Two offers")
    page.get_by_label("Template (approved in WhatsApp Manager)").select_option(
        label="weekly_offer (en) · marketing"
    )
    page.get_by_label("Test other versions of the message").check()
    page.get_by_label("Template of version B").select_option(label="personal_offer (en) · marketing")
    version_b = page.locator('[data-variant="1"]')
    version_b.locator("[data-parameter]").nth(0).locator("[data-mode]").select_option(
        label="Customer's first name"
    )
    version_b.locator("[data-parameter]").nth(0).locator("[data-value]").fill("there")
    version_b.locator("[data-parameter]").nth(1).locator("[data-value]").fill("B15")
    page.get_by_label("Share of the audience for B (%)").fill("40")
    page.get_by_label("Pick the better version by").select_option(label="Click rate")
    page.get_by_role("button", name="Save draft").click()
    refusal = page.locator('[data-error-for="variants"]')
    refusal.wait_for()
    assert "add up to 90%" in refusal.inner_text()
    assert client_campaigns(make, shop) == []

    page.get_by_label("Share of the audience for B (%)").fill("50")
    # Each version's reach: the audience times its share.
    page.locator("[data-variant-estimate]").nth(1).wait_for()
    audience = int(page.locator("[data-estimate-count]").inner_text())
    half = int(audience * 0.5 + 0.5)
    estimates = page.locator("[data-variant-estimate]").all_inner_texts()
    assert estimates == [f"A: about {half} recipients", f"B: about {half} recipients"] or half == 1
    page.get_by_label("How each customer is sent").select_option(label="Each at the hour they usually read")
    page.get_by_label("Within (hours after sending starts)").fill("12")
    page.locator("[data-send-hour]").first.wait_for()
    assert page.locator("[data-send-hour]").count() == 1  # nobody read yet: everyone at once
    page.get_by_label("Test first, then send the winner to the rest").check()
    page.get_by_label("Test share of the audience (%)").fill("60")
    page.get_by_role("button", name="Save draft").click()
    refusal = page.locator('[data-error-for="test_then_send"]')
    refusal.wait_for()
    assert refusal.inner_text() == "Test on at most 50% of the audience."
    page.get_by_label("Test share of the audience (%)").fill("25")
    page.get_by_label("Send the winner after (hours)").fill("6")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("heading", name="Two offers").wait_for()
    (campaign,) = client_campaigns(make, shop)
    assert [(v["name"], v["template"]["name"], v["share"]) for v in campaign.variants] == [
        ("A", "weekly_offer", 50),
        ("B", "personal_offer", 50),
    ]
    assert campaign.variants[1]["components"][0]["parameters"][1]["text"] == "B15"
    assert (campaign.experiment_metric, campaign.send_time_mode, campaign.send_time_window_hours) == (
        "click_rate",
        "per_customer",
        12,
    )
    assert campaign.test_then_send == {"share": 25, "hours": 6}

    _open(page, f"/campaigns/{campaign.id}/edit")
    assert page.get_by_label("Test other versions of the message").is_checked()
    assert page.get_by_label("Test first, then send the winner to the rest").is_checked()
    assert page.get_by_label("Test share of the audience (%)").input_value() == "25"
    assert page.get_by_label("Share of the audience for B (%)").input_value() == "50"
    assert (
        page.locator('[data-variant="1"] [data-parameter]').nth(1).locator("[data-value]").input_value()
        == "B15"
    )
    assert page.get_by_label("Within (hours after sending starts)").input_value() == "12"


def test_pick_audience_tags_from_the_shop_in_any_case(page, make):
    """The shop's tags are offered to pick; a tag typed in other capitals reaches the same
    customers, and the draft stores the shop's own spelling; "any" is stated."""
    shop = whatsapp_shop(make)
    for n, (name, tags) in enumerate(
        [("Ana", ["VIP"]), ("Ben", ["vip", "Wholesale"]), ("Cy", ["Newsletter"])]
    ):
        make.customer(shop, first_name=name, tags=tags, phone=f"+3461200000{n}", phone_e164=f"+3461200000{n}")
    _open(page, "/campaigns/new")
    picker = page.locator('[data-tag-picker="include_tags"] [data-add-tag]')
    assert [b.inner_text() for b in picker.all()] == ["Newsletter", "VIP", "vip", "Wholesale"]
    assert "any of the tags to include" in page.locator("form").inner_text()
    page.get_by_label("Template (approved in WhatsApp Manager)").select_option(
        label="spring_lookbook (en) · marketing"
    )
    page.get_by_label("Only customers tagged").fill("Vip")  # neither of the shop's spellings
    page.locator("[data-estimate-count]").filter(has_text="2").wait_for()
    page.locator('[data-tag-picker="exclude_tags"] [data-add-tag="Wholesale"]').click()
    assert page.get_by_label("Leave out customers tagged").input_value() == "Wholesale"
    page.locator("[data-estimate-count]").filter(has_text="1").wait_for()
    screenshot(page, "composer-tags")
