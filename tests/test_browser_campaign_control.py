"""Control of a campaign before it sends, in headless chromium against a real server (issue 26):
the scheduled time in the shop's time zone (list and page), cancel, unschedule, edit, delete
and duplicate from the admin; the launch confirmation (recipients, US numbers with "leave them
out", cost, credits left); the composer's schedule in the shop's zone; checks before saving in
a merchant's words; tracked links offered only where the template can carry them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Campaign
from tests.browser import app_tab, open_embedded, screenshot
from tests.meta_stand_in import whatsapp_shop

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"


@pytest.fixture
def page(meta):
    # The merchant's browser is in Los Angeles; the shop is elsewhere: the shop's zone wins.
    with app_tab({"LIVE_POLL_MS": 300}, height=1200, timezone_id="America/Los_Angeles") as tab:
        yield tab


def _open(page, path: str) -> None:
    open_embedded(page, path, SHOP)


def _text(locator) -> str:
    """The text with Babel's and Intl's narrow no-break spaces ("10:00\u202fAM") as spaces."""
    return locator.inner_text().replace("\u202f", " ").replace("\xa0", " ")


def _campaign(make, campaign) -> Campaign | None:
    with Session(make.engine) as session:
        return session.get(Campaign, (campaign.shop_id, campaign.id))


def _scheduled(make, shop, name: str, at: datetime):
    return make.campaign(
        shop,
        name,
        status="SCHEDULED",
        type="INFORMATIONAL",
        template_name="order_update",
        template_category="UTILITY",
        scheduled_at=at,
        estimated_audience=3,
    )


def test_a_scheduled_campaign_says_when_and_can_be_cancelled_or_edited(page, make):
    shop = whatsapp_shop(make, timezone="Asia/Tokyo")
    at = datetime(datetime.now(UTC).year + 1, 1, 15, 1, 0, tzinfo=UTC)  # 10:00 in Tokyo
    first = _scheduled(make, shop, "New year greetings", at)
    second = _scheduled(make, shop, "January restock", at + timedelta(days=1))

    _open(page, "/")
    row = page.locator(f'tr[data-campaign-id="{first.id}"] [data-scheduled-for]')
    assert "Jan 15" in _text(row) and "10:00 AM" in _text(row)

    _open(page, f"/campaigns/{first.id}")
    banner = page.locator("[data-scheduled-for]")
    assert "10:00 AM" in _text(banner) and "Asia/Tokyo" in _text(banner)
    page.get_by_role("button", name="Cancel campaign").click()
    dialog = page.get_by_role("dialog", name="Cancel this campaign?")
    dialog.get_by_role("button", name="Keep it scheduled").click()
    assert _campaign(make, first).status == "SCHEDULED"
    page.get_by_role("button", name="Cancel campaign").click()
    dialog.get_by_role("button", name="Cancel campaign").click()
    page.locator('[data-status="CANCELLED"]').first.wait_for()
    assert _campaign(make, first).status == "CANCELLED"

    _open(page, f"/campaigns/{second.id}")
    page.get_by_role("button", name="Unschedule").click()
    page.get_by_role("link", name="Edit draft").wait_for()
    assert (_campaign(make, second).status, _campaign(make, second).scheduled_at) == ("DRAFT", None)


def test_edit_a_scheduled_campaign_takes_it_off_the_schedule_first(page, make):
    shop = whatsapp_shop(make, timezone="Europe/Madrid")
    campaign = _scheduled(make, shop, "Weekend notice", datetime.now(UTC) + timedelta(days=2))
    _open(page, f"/campaigns/{campaign.id}")
    page.get_by_role("button", name="Edit", exact=True).click()
    page.get_by_role("dialog", name="Edit this scheduled campaign?").get_by_role(
        "button", name="Unschedule and edit"
    ).click()
    page.get_by_role("heading", name="Edit draft").wait_for()
    assert page.get_by_label("Name").input_value() == "Weekend notice"
    assert _campaign(make, campaign).status == "DRAFT"


def test_a_draft_can_be_duplicated_and_deleted(page, make):
    shop = whatsapp_shop(make)
    draft = make.campaign(shop, "Spring teaser", status="DRAFT", template_name="weekly_offer")
    _open(page, f"/campaigns/{draft.id}")
    page.get_by_role("button", name="Duplicate").click()
    page.get_by_role("heading", name="Edit draft").wait_for()
    assert page.get_by_label("Name").input_value() == "Spring teaser (copy)"

    _open(page, f"/campaigns/{draft.id}")
    page.get_by_role("button", name="Delete draft").click()
    page.get_by_role("dialog", name="Delete this draft?").get_by_role("button", name="Delete draft").click()
    page.get_by_role("heading", name="Campaigns").wait_for()
    assert _campaign(make, draft) is None
    assert page.get_by_role("link", name="Spring teaser (copy)").is_visible()


def test_the_launch_confirmation_leaves_us_numbers_out_in_one_click(page, make, meta, run_jobs):
    shop = whatsapp_shop(make, credits=10)
    for phone in ("+34612000001", "+34612000002", "+34612000003", "+12125550101", "+13105550102"):
        make.customer(shop, phone=phone, phone_e164=phone)
    draft = make.campaign(
        shop, "Spring teaser", status="DRAFT", template_name="weekly_offer", estimated_audience=5
    )
    _open(page, f"/campaigns/{draft.id}")
    page.get_by_role("button", name="Launch now").click()
    dialog = page.get_by_role("dialog", name="Launch this campaign?")
    dialog.get_by_role("button", name="Launch to 5 recipients").wait_for()
    text = _text(dialog)
    assert "5 subscribed recipients" in text
    assert "2 recipients with United States (+1) numbers" in text and "131049" in text
    assert "About $" in text and "5 of your 10 (one per recipient): 5 left after it." in text
    screenshot(page, "launch-confirmation")
    assert meta.truth()["messages"] == {}  # nothing is sent before the confirmation

    dialog.get_by_role("button", name="Leave them out").click()
    dialog.get_by_role("button", name="Launch to 3 recipients").click()
    page.locator("[data-live-status]").filter(has_text="Live").wait_for()
    run_jobs()
    assert len(meta.truth()["messages"]) == 3
    assert _campaign(make, draft).audience.get("exclude_us_numbers") is True


def test_the_composer_schedules_in_the_shops_time_zone(page, make):
    """10:00 typed in a Los Angeles browser for a Madrid shop is 10:00 in Madrid."""
    shop = whatsapp_shop(make, timezone="Europe/Madrid")
    make.customer(shop, phone="+34612000001", phone_e164="+34612000001")
    day = (datetime.now(UTC) + timedelta(days=5)).date()
    _open(page, "/campaigns/new")
    field = page.get_by_label("Send on (your shop's time zone: Europe/Madrid)")
    page.get_by_label("Name").fill("Delays")
    page.get_by_label("Template (approved in WhatsApp Manager)").select_option(
        label="order_update (en) · utility"
    )
    field.fill("2020-01-01T10:00")
    page.get_by_role("button", name="Schedule").click()
    past = page.locator('[data-error-for="scheduled_at"]')
    past.filter(has_text="This time has already passed").wait_for()
    assert "Saved as a draft, not scheduled" in page.locator("[data-composer-status]").inner_text()
    field.fill(f"{day}T10:00")
    page.get_by_role("button", name="Schedule").click()
    page.locator("[data-scheduled-for]").wait_for()
    assert "10:00 AM" in _text(page.locator("[data-scheduled-for]"))
    with Session(make.engine) as session:
        campaign = session.scalar(select(Campaign).where(Campaign.shop_id == shop.id))
    local = campaign.scheduled_at.astimezone(ZoneInfo("Europe/Madrid"))
    assert (campaign.status, local.date(), local.hour, local.minute) == ("SCHEDULED", day, 10, 0)


def test_a_refused_launch_says_the_draft_was_saved(page, make):
    shop = whatsapp_shop(make, credits=0)
    make.customer(shop, phone="+34612000001", phone_e164="+34612000001")
    _open(page, "/campaigns/new")
    page.get_by_label("Name").fill("Delays")
    page.get_by_label("Template (approved in WhatsApp Manager)").select_option(
        label="order_update (en) · utility"
    )
    page.get_by_role("button", name="Launch now").click()
    dialog = page.get_by_role("dialog", name="Launch this campaign?")
    dialog.get_by_text("top up 1 before launching").wait_for()
    dialog.get_by_role("button", name="Launch to 1 recipient").click()
    status = page.locator("[data-composer-status]")
    status.filter(has_text="Saved as a draft, not launched").wait_for()
    assert "credits" in page.locator('[data-error-for="audience"]').inner_text()


def test_checks_before_saving_and_tracked_links_where_they_work(page, make):
    shop = whatsapp_shop(make)
    _open(page, "/campaigns/new")
    requests = []
    page.on(
        "request",
        lambda r: (
            requests.append(r.url)
            if r.method in ("POST", "PUT") and r.url.endswith("/api/campaigns")
            else None
        ),
    )
    page.get_by_label("Template (approved in WhatsApp Manager)").select_option(
        label="spring_lookbook (en) · marketing"
    )
    page.get_by_role("button", name="Save draft").click()
    assert page.locator('[data-error-for="name"]').inner_text() == "Give the campaign a name."
    page.get_by_label("Name").fill("Looks")
    link = page.get_by_label("Link to the image (https, hosted by you)")
    link.fill("http://cdn.example.com/spring.jpg")
    page.get_by_role("button", name="Save draft").click()
    header = page.locator('[data-error-for="components.header"]')
    assert header.inner_text() == "The image link must start with https://"
    link.fill("https://cdn.example.com/lookbook.pdf")
    page.get_by_role("button", name="Save draft").click()
    assert header.inner_text() == "This link is a PDF: an image header takes a JPEG or PNG image."
    assert requests == [] and _campaigns(make, shop) == []  # refused before anything was saved

    # spring_lookbook's link is the shop's own: no tracked link offered; tracked_offer's is /r/{{1}}.
    mode = page.locator('[data-component="components.button[0]"] [data-mode]')
    assert "Tracked link to a destination" not in mode.inner_text()
    page.get_by_label("Template (approved in WhatsApp Manager)").select_option(
        label="tracked_offer (en) · marketing"
    )
    mode.select_option(label="Tracked link to a destination")
    page.locator('[data-component="components.button[0]"] [data-value]').fill(
        "https://demo.myshopify.com/collections/spring"
    )
    page.locator('[data-component="components.body"] [data-value]').fill("Ana")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("heading", name="Looks").wait_for()
    (campaign,) = _campaigns(make, shop)
    assert (
        campaign.template_components[1]["parameters"][0]["track"]
        == "https://demo.myshopify.com/collections/spring"
    )


def _campaigns(make, shop) -> list:
    with Session(make.engine) as session:
        return list(session.scalars(select(Campaign).where(Campaign.shop_id == shop.id)))


def test_the_composers_confirmation_leaves_us_numbers_out_and_can_wait(page, make, meta):
    """From the composer: "Leave them out" ticks the audience's own box, and "Not now" keeps
    the draft unlaunched and says so."""
    shop = whatsapp_shop(make)
    for phone in ("+34612000001", "+12125550101"):
        make.customer(shop, phone=phone, phone_e164=phone)
    _open(page, "/campaigns/new")
    page.get_by_label("Name").fill("Weekly")
    page.get_by_label("Template (approved in WhatsApp Manager)").select_option(
        label="weekly_offer (en) · marketing"
    )
    page.get_by_role("button", name="Launch now").click()
    dialog = page.get_by_role("dialog", name="Launch this campaign?")
    dialog.get_by_role("button", name="Launch to 2 recipients").wait_for()
    dialog.get_by_role("button", name="Leave them out").click()
    dialog.get_by_role("button", name="Launch to 1 recipient").wait_for()
    assert page.get_by_label("Leave out United States (+1) numbers").is_checked()
    dialog.get_by_role("button", name="Not now").click()
    page.locator("[data-composer-status]").filter(has_text="Saved as a draft and not launched").wait_for()
    assert meta.truth()["messages"] == {}
    (campaign,) = _campaigns(make, shop)
    assert campaign.status == "DRAFT" and campaign.audience["exclude_us_numbers"] is True
