"""The pages in a real headless chromium, served by a real server, with Shopify's CDN unreachable."""

from __future__ import annotations

import csv
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.models import Campaign, Shop
from tests import meta
from tests.browser import admin_query, chromium, offline_cdn, screenshot, serve
from tests.scenarios import T0, mixed_campaign
from tests.tokens import session_token

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"


@pytest.fixture(scope="module")
def browser():
    with chromium() as running:
        yield running


@pytest.fixture
def base_url(service_urls):
    from web import create_app

    # Poll fast so the live test does not wait out the production interval of 5 s.
    app = create_app({"APP_ENV": "test", "TESTING": True, "LIVE_POLL_MS": 300})
    with serve(app) as url:
        yield url


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 900}, accept_downloads=True)
    tab = context.new_page()
    offline_cdn(tab)
    yield tab
    context.close()


@pytest.fixture
def scenario(make):
    return mixed_campaign(make, make.shop(SHOP, timezone="Europe/Madrid"), status="PENDING")


def _open(page, base_url, path, **extra):
    token = session_token(SHOP, exp=int(time.time()) + 600)
    separator = "&" if "?" in path else "?"
    page.goto(base_url + path + separator + admin_query(SHOP, token, **extra))


def _counts(make, campaign_id) -> dict[str, int]:
    with Session(make.engine) as session:
        c = session.scalar(select(Campaign).where(Campaign.id == campaign_id))
        return {
            "sent": c.sent_count,
            "delivered": c.delivered_count,
            "read": c.read_count,
            "failed": c.failed_count,
            "clicked": c.clicked_count,
            "estimated": c.estimated_audience,
        }


def test_campaign_page_numbers_match_the_database(page, base_url, make, scenario):
    """Opened with the admin's id_token and no CDN, the page shows the database's exact counts."""
    _open(page, base_url, f"/campaigns/{scenario.campaign.id}")
    counts = _counts(make, scenario.campaign.id)
    table = page.locator("table.compact").first
    for key, value in counts.items():
        assert table.locator(f'[data-metric="{key}"]').inner_text() == str(value), key
    assert page.locator("h1").inner_text() == "Autumn sale"
    page.locator('[data-timing="deliver"] [data-median]').wait_for()
    assert page.locator('[data-timing="deliver"] [data-median]').inner_text() == "22s"
    screenshot(page, "campaign_page")


def test_the_app_home_opens_a_campaign_with_a_fresh_token(page, base_url, scenario):
    """Clicking a campaign in the list lands on its page: the link gets a session token on the way."""
    _open(page, base_url, "/")
    page.get_by_role("link", name="Autumn sale").click()
    page.wait_for_url(f"**/campaigns/{scenario.campaign.id}?**")
    assert "id_token=" in page.url and page.locator("h1").inner_text() == "Autumn sale"
    screenshot(page, "campaigns_list_to_campaign")


def test_a_fix_link_opens_the_customer_in_the_shopify_admin(page, base_url, scenario):
    """The calling-code row's link opens the customer's page in the admin beside the fix list."""
    customer = scenario.customers["lopez"]
    admin_pages = []

    def admin(route):
        admin_pages.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<title>Customer</title><h1>Customer</h1>")

    page.context.route("https://admin.shopify.com/**", admin)
    _open(page, base_url, f"/campaigns/{scenario.campaign.id}")
    page.get_by_role("link", name="Review and fix these customers").click()
    page.wait_for_url("**/messages?**")
    row = page.locator(f'tr[data-message-id="{scenario.messages["lopez"].id}"]')
    assert row.locator("[data-suggested]").inner_text() == "+34612345679"
    link = row.get_by_role("link", name="Open customer in Shopify")
    assert link.get_attribute("href") == f"shopify://admin/customers/{customer.shopify_customer_id}"
    # Opened beside the fix list (issue 26: it used to replace it, target _top).
    assert link.get_attribute("target") == "_blank"
    screenshot(page, "calling_code_fixes")
    with page.context.expect_page() as opened:
        link.click()
    admin_tab = opened.value
    admin_tab.wait_for_url(f"https://admin.shopify.com/store/demo/customers/{customer.shopify_customer_id}")
    assert admin_pages == [f"https://admin.shopify.com/store/demo/customers/{customer.shopify_customer_id}"]
    assert "/messages?" in page.url and row.is_visible()  # the fix list stays open


def test_filter_failures_then_download_exactly_those_rows(page, base_url, scenario, tmp_path):
    """Filtering by category and searching narrow the table; the CSV holds exactly those rows."""
    _open(page, base_url, f"/campaigns/{scenario.campaign.id}/messages")
    assert page.locator("tr[data-message-id]").count() == 6
    page.get_by_label("Category").select_option("data_quality")
    page.get_by_role("button", name="Apply", exact=True).click()  # not "Apply +34..." (a fix)
    page.wait_for_url("**category=data_quality**")
    assert page.locator("tr[data-message-id]").count() == 5
    page.get_by_label("Search by name or phone").fill("612 34 56")
    page.get_by_label("Search by name or phone").press("Enter")
    page.wait_for_url("**q=612**")
    shown = sorted(int(r.get_attribute("data-message-id")) for r in page.locator("tr[data-message-id]").all())
    assert shown == sorted([scenario.messages["lopez"].id, scenario.messages["nocountry"].id])
    screenshot(page, "failed_messages_filtered")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download these rows as CSV").click()
    today = datetime.now(ZoneInfo("Europe/Madrid")).date().isoformat()
    assert download.value.suggested_filename == f"Autumn sale - messages {today}.csv"
    path = tmp_path / "export.csv"
    download.value.save_as(path)
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert sorted(int(r["message_id"]) for r in rows) == shown
    assert {r["error_category"] for r in rows} == {"data_quality"}
    lopez = next(r for r in rows if int(r["message_id"]) == scenario.messages["lopez"].id)
    customer_id = scenario.customers["lopez"].shopify_customer_id
    assert lopez["customer_admin_link"] == f"https://admin.shopify.com/store/demo/customers/{customer_id}"


def test_a_live_counter_changes_without_a_reload_and_stops_when_settled(
    page, base_url, make, scenario, client
):
    """While PENDING, a signed delivery webhook, once drained, shows on its own; settling ends polling."""
    _open(page, base_url, f"/campaigns/{scenario.campaign.id}")
    delivered = page.locator('table.compact [data-metric="delivered"]')
    assert delivered.inner_text() == "5"
    page.evaluate("window.__sameDocument = true")
    with Session(make.engine) as session:
        phone_number_id = session.get(Shop, scenario.campaign.shop_id).meta_phone_number_id
    wamid = scenario.messages["inflight"].wamid
    seconds = int((T0 + timedelta(minutes=3)).timestamp())
    assert (
        meta.post(
            client, meta.statuses_body(phone_number_id, meta.status(wamid, "delivered", seconds))
        ).status_code
        == 200
    )
    assert meta.drain()
    page.wait_for_function(
        "document.querySelector('table.compact [data-metric=\"delivered\"]').textContent.trim() === '6'"
    )
    assert page.evaluate("window.__sameDocument") is True  # updated in place, not reloaded
    screenshot(page, "live_counter_changed")
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Campaign).where(Campaign.id == scenario.campaign.id).values(status="PARTIALLY_SENT")
        )
    page.wait_for_function(
        "document.querySelector('[data-live-status]').textContent.includes('Final numbers')"
    )
    assert page.locator('[data-status="PARTIALLY_SENT"]').first.inner_text() == "Partially sent"


def test_pages_stay_usable_by_keyboard_without_the_cdn(page, base_url, scenario):
    """Without Shopify's scripts the page still has its landmarks, labelled controls and a skip link."""
    _open(page, base_url, f"/campaigns/{scenario.campaign.id}/messages")
    assert page.get_by_role("navigation", name="App").is_visible()
    assert page.get_by_role("main").is_visible()
    unlabelled = page.evaluate(
        "[...document.querySelectorAll('select, input:not([type=hidden])')]"
        ".filter(el => !el.labels || el.labels.length === 0).length"
    )
    assert unlabelled == 0
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    screenshot(page, "failed_messages_no_cdn")


def test_a_finished_dispatch_says_sent_with_pending_reports_and_never_live(
    page, base_url, make, scenario, client
):
    """Dispatch over with one report to come: "Sent · 1 report still pending", no "Live"; when the
    report arrives the badge becomes "Sent" in place. The summary shows rates, money and one next step."""
    with Session(make.engine) as session, session.begin():
        session.execute(
            update(Campaign).where(Campaign.id == scenario.campaign.id).values(dispatch_finished_at=T0)
        )
    _open(page, base_url, f"/campaigns/{scenario.campaign.id}")
    badge = page.locator('#region-header [data-status="PENDING"]')
    assert badge.inner_text() == "Sent · 1 report still pending"
    assert "Live" not in page.locator("[data-live-status]").inner_text()
    summary = page.locator("#region-summary")
    assert "1 message has not reported delivered or failed yet" in summary.inner_text()
    assert summary.locator('[data-summary="delivery_rate"]').inner_text() == "55.6%"
    assert summary.locator('[data-summary="cost"]').inner_text() == "$0.31"  # 5 delivered × $0.0615
    # Delivered and no order yet: revenue is a measured zero, not "—".
    assert summary.locator('[data-summary="revenue"]').inner_text() == "$0.00"
    assert summary.locator('[data-summary="return_on_spend"]').inner_text() == "0.00×"
    assert summary.locator("[data-next-action]").count() == 1
    assert summary.locator('[data-next-action="fix_phones"]').is_visible()
    # Only raised signals show; every rule waits behind the disclosure.
    assert page.locator("[data-signal-rules] table").is_hidden()
    assert page.locator('.signals-raised [data-signal="PHONE_DATA_FAILURES"]').is_visible()
    screenshot(page, "campaign_sent_reports_pending")
    with Session(make.engine) as session:
        phone_number_id = session.get(Shop, scenario.campaign.shop_id).meta_phone_number_id
    seconds = int((T0 + timedelta(minutes=3)).timestamp())
    body = meta.statuses_body(
        phone_number_id, meta.status(scenario.messages["inflight"].wamid, "delivered", seconds)
    )
    assert meta.post(client, body).status_code == 200
    assert meta.drain()
    page.wait_for_function(
        "document.querySelector('#region-header [data-status]').textContent.trim() === 'Sent'"
    )
    page.locator("[data-live-status]").filter(has_text="Sent (updated").wait_for()
    assert "Live" not in page.locator("[data-live-status]").inner_text()


@pytest.mark.parametrize("status", ["DRAFT", "SCHEDULED", "CANCELLED"])
def test_a_campaign_that_sent_nothing_shows_its_audience_not_an_empty_report(page, base_url, make, status):
    """A draft, a scheduled or a cancelled campaign shows who it is for and what it costs, no report."""
    shop = make.shop(SHOP, timezone="Europe/Madrid")
    make.customer(shop, phone="+34612345670", phone_e164="+34612345670", tags=["vip"])
    campaign = make.campaign(
        shop,
        "Winter teaser",
        status=status,
        estimated_audience=53,  # saved before the audience changed: a stale estimate
        audience={"include_tags": ["vip"]},
        scheduled_at=T0 + timedelta(days=400) if status == "SCHEDULED" else None,
        template_parameters=["Ana"],
    )
    _open(page, base_url, f"/campaigns/{campaign.id}")
    assert page.locator("#region-funnel").count() == 0 and page.locator("#region-gap").count() == 0
    body = page.locator("main").inner_text()
    assert "Final numbers" not in body and "Live" not in page.locator("[data-live-status]").inner_text()
    assert (
        page.locator("[data-audience-rule]")
        .inner_text()
        .startswith("Customers subscribed to WhatsApp marketing tagged with any of vip")
    )
    summary = page.locator("#region-summary")
    # A cancelled campaign keeps its estimate; one still to send is counted now, everywhere on the page.
    expected = "53 customers" if status == "CANCELLED" else "1 customer"
    assert summary.locator('[data-summary="audience"]').inner_text() == expected
    if status != "CANCELLED":
        assert "1 subscribed recipient (estimate)" in body and "53 subscribed" not in body
    if status == "CANCELLED":
        assert "nothing was sent and nothing was charged" in summary.inner_text()
    else:
        assert summary.locator('[data-summary="estimated_cost"]').inner_text().startswith("$")
        assert "0 credits do not cover this audience" in page.locator("[data-credits-short]").inner_text()
    screenshot(page, f"campaign_{status.lower()}")


def test_the_campaigns_list_searches_wraps_long_names_and_explains_a_reversed_range(
    page, base_url, make, scenario
):
    """Search by name, cost/revenue/scheduled columns, long names wrapping inside the frame, and a
    start date after the end date saying why nothing matches."""
    shop_id = scenario.campaign.shop_id
    with Session(make.engine) as session:
        shop = session.get(Shop, shop_id)
    long_name = "Black Friday early access for our most loyal VIP customers " * 3
    make.campaign(shop, long_name.strip(), status="SCHEDULED", scheduled_at=T0 + timedelta(days=400))
    _open(page, base_url, "/")
    row = page.locator(f'tr[data-campaign-id="{scenario.campaign.id}"]')
    assert row.locator('[data-list="cost"]').inner_text() == "$0.31"
    assert row.locator('[data-list="revenue"]').inner_text() == "$0.00"
    wrap = page.locator(".table-wrap")
    assert wrap.evaluate("el => el.scrollWidth <= el.clientWidth")  # nothing pushed off-screen
    screenshot(page, "campaigns_list_long_name")
    page.get_by_label("Search by name").fill("black FRIDAY")
    page.get_by_label("Search by name").press("Enter")
    page.wait_for_url("**q=black**")
    assert page.locator("tr[data-campaign-id]").count() == 1
    assert "Black Friday" in page.locator("tr[data-campaign-id] th").inner_text()
    _open(page, base_url, "/?from=2026-11-20&to=2026-11-01")
    empty = page.locator("[data-reversed-range]")
    assert "The start date (Nov 20, 2026) is after the end date (Nov 1, 2026)" in empty.inner_text()


def test_date_pickers_say_their_date_the_way_the_pages_write_dates(page, base_url, scenario):
    """A picker's date shows beside it in the shop locale's medium format, as every date on the pages."""
    _open(page, base_url, "/?from=2026-11-01")
    assert page.locator("#f-from + [data-date-echo]").inner_text() == "Nov 1, 2026"
    assert page.locator("[data-date-range]").inner_text().startswith("Created from Nov 1, 2026")
    page.locator("#f-to").fill("2026-11-20")
    assert page.locator("#f-to + [data-date-echo]").inner_text() == "Nov 20, 2026"
