"""The campaign composer in headless chromium against a real server and the Meta stand-in:
choose an approved template, fill its header, body and button, watch the preview and the
estimate, see a refusal next to its field, launch, and edit a draft."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session

from core.models import Campaign
from tests.browser import admin_query, chromium, offline_cdn, screenshot, serve
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer, session_token

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"
IMAGE = "https://cdn.shop.example.com/spring.jpg"


@pytest.fixture
def page(meta):
    from web import create_app

    app = create_app({"APP_ENV": "test", "TESTING": True, "LIVE_POLL_MS": 300})
    with serve(app) as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1200, "height": 1400})
        tab = context.new_page()
        offline_cdn(tab)
        tab.base = url
        yield tab
        context.close()


def _open(page, path: str) -> None:
    token = session_token(SHOP, exp=int(time.time()) + 600)
    page.goto(f"{page.base}{path}?" + admin_query(SHOP, token))


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
