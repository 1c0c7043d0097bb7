"""Our cost beside Meta's bill on the campaign page and the trends page, in a real headless
chromium: Meta's figures come from the stand-in's ``pricing_analytics`` through the same read
the daily job makes, and a day Meta billed more on shows what differs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from datetime import time as clock

import pytest

from core.reconcile.read import read_meta_billing
from tests.browser import app_tab, open_embedded, screenshot
from tests.meta_stand_in import PHONE_NUMBER_ID, whatsapp_shop

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"
# "Yesterday" as the daily job sees it: set when each test starts (not at import: a run that
# passes midnight UTC would otherwise expect the day before the job's).
YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
NOON = datetime.combine(YESTERDAY, clock(12), UTC)


@pytest.fixture(autouse=True)
def _yesterday():
    global YESTERDAY, NOON
    YESTERDAY = datetime.now(UTC).date() - timedelta(days=1)
    NOON = datetime.combine(YESTERDAY, clock(12), UTC)


@pytest.fixture
def campaign(make, meta):
    """Three marketing messages to Spain delivered yesterday; Meta billed four (one from
    another app on the number), read as the daily job reads."""
    shop = whatsapp_shop(make, SHOP)
    campaign = make.campaign(
        shop, "Spring sale", status="SENT", launched_at=NOON, dispatch_started_at=NOON, completed_at=NOON
    )
    for n in range(3):
        make.message(
            campaign,
            status="delivered",
            phone=f"+3461200000{n}",
            wamid=f"wamid.b{n}",
            sent_at=NOON,
            delivered_at=NOON,
            pricing_category="marketing",
            pricing_type="regular",
            pricing_billable=True,
        )
    body = {"phone_number_id": PHONE_NUMBER_ID, "to": "+34612000000", "category": "marketing"}
    meta.http.post(
        f"{meta.url}/sim/billing/messages", json={**body, "at": int(NOON.timestamp()), "count": 4}, timeout=10
    ).raise_for_status()
    assert read_meta_billing(shop.id, YESTERDAY, YESTERDAY).outcome == "drift"
    return campaign


@pytest.fixture
def page(service_urls, meta):
    with app_tab() as tab:
        tab.open_path = lambda path, **extra: open_embedded(tab, path, SHOP, **extra)
        yield tab


def _day_row(page):
    return page.locator(f"#region-meta-billing tr[data-billing-day='{YESTERDAY.isoformat()}']")


def test_campaign_page_shows_both_figures_and_what_differs(page, campaign):
    """The campaign's day: our 3 messages at Spain's rate beside Meta's 4, the drift, and the
    line naming the country, category, tier and the other sender."""
    page.open_path(f"/campaigns/{campaign.id}")
    row = _day_row(page)
    assert row.locator("[data-billing='ours-messages']").inner_text() == "3"
    assert row.locator("[data-billing='ours-cost']").inner_text() == "$0.18"  # the currency's decimals
    assert row.locator("[data-billing='meta-messages']").inner_text() == "4"
    assert row.locator("[data-billing='meta-cost']").inner_text() == "$0.25"
    assert row.locator("[data-billing='drift']").inner_text().startswith("-25")
    line = page.locator("#region-meta-billing [data-billing='drift-key']").inner_text()
    assert line.startswith("ES, marketing (Meta's tier 0:MAX): Meta 4 messages")
    assert "another app on the same number" in line
    screenshot(page, "campaign_meta_billing")


def test_trends_page_shows_the_period_days(page, campaign):
    """The trends period's days carry the same comparison."""
    page.open_path("/trends", **{"from": YESTERDAY.isoformat(), "to": YESTERDAY.isoformat()})
    row = _day_row(page)
    assert row.locator("[data-billing='ours-cost']").inner_text() == "$0.18"  # the currency's decimals
    assert row.locator("[data-billing='meta-cost']").inner_text() == "$0.25"
