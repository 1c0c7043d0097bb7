"""Launching a campaign from its page, in headless chromium against a real server: the launch
checks speak for themselves, and a launched campaign fills in as it sends."""

from __future__ import annotations

import re

import pytest
from sqlalchemy.orm import Session

from core.models import Campaign
from tests.browser import app_tab, open_embedded, screenshot
from tests.meta_stand_in import whatsapp_shop

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"


@pytest.fixture
def page(meta):
    with app_tab({"LIVE_POLL_MS": 300}) as tab:
        yield tab


def _open(page, campaign_id: int) -> None:
    open_embedded(page, f"/campaigns/{campaign_id}", SHOP)


def _confirm(page) -> None:
    """Press the confirmation's launch button once it says what the launch will do."""
    page.get_by_role("button", name=re.compile(r"^Launch to \d+ recipients?$")).click()


def _draft(make, template: str = "weekly_offer", **shop_fields):
    shop = whatsapp_shop(make, **shop_fields)
    for n in range(12):
        make.customer(shop, phone=f"+346120{n:05d}", phone_e164=f"+346120{n:05d}")
    return make.campaign(shop, "Spring teaser", status="DRAFT", template_name=template, estimated_audience=12)


def test_a_failed_launch_check_is_shown_on_the_page(page, make, meta):
    """The template is paused at Meta: the button answers with the check's own sentence."""
    campaign = _draft(make, template="paused_promo")
    _open(page, campaign.id)
    page.get_by_role("button", name="Launch now").click()
    _confirm(page)  # nothing launches before the confirmation (issue 26)
    alert = page.locator("[data-api-action-result]")
    alert.wait_for()
    assert "paused by Meta" in alert.inner_text()
    with Session(make.engine) as session:
        assert session.get(Campaign, (campaign.shop_id, campaign.id)).status == "DRAFT"


def test_a_launch_refused_for_credits_links_to_buying_them(page, make, meta):
    """Too few credits: the check's sentence comes with a "Buy credits" link to Settings'
    credits, which opens with a fresh session token."""
    campaign = _draft(make, credits=3)
    _open(page, campaign.id)
    page.get_by_role("button", name="Launch now").click()
    _confirm(page)
    alert = page.locator("[data-api-action-result]")
    alert.get_by_text("needs 12 credits").wait_for()
    alert.get_by_role("link", name="Buy credits").click()
    page.get_by_role("heading", name="Credits", exact=True).wait_for()
    assert "/settings" in page.url and "id_token=" in page.url
    assert page.get_by_role("button", name="Buy credits: 1,000 for 10.00 USD").is_visible()


def test_a_launched_campaign_fills_in_on_the_page(page, make, meta, run_jobs):
    """Launch from the page; the page reloads as a live campaign, and once the worker has
    sent, the sent count shows without a reload."""
    campaign = _draft(make)
    _open(page, campaign.id)
    page.get_by_role("button", name="Launch now").click()
    _confirm(page)
    page.locator("[data-live-status]").filter(has_text="Live").wait_for()
    run_jobs()
    page.locator('table.compact [data-metric="sent"]').filter(has_text="12").wait_for(timeout=20_000)
    screenshot(page, "campaign-launched-and-sent")
    assert len(meta.truth()["messages"]) == 12
