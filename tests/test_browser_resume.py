"""A halted campaign's page, in headless chromium against a real server: it says why it
stopped and how many messages never left, and "Resume sending" sends exactly those."""

from __future__ import annotations

import time

import pytest
from sqlalchemy.orm import Session

from core.meta_webhooks.halt import HaltReason, halt_campaign
from core.models import Campaign
from core.rules.failure_codes import describe
from tests.browser import admin_query, app_tab, screenshot
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import session_token

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"


@pytest.fixture
def page(meta):
    with app_tab({"LIVE_POLL_MS": 300}) as tab:
        yield tab


def _halted(make) -> Campaign:
    """Four messages with Meta, six queued, then a spam rate limit (131048) stopped it."""
    shop = whatsapp_shop(make)
    campaign = make.campaign(shop, "Black Friday", template_name="weekly_offer")
    for n in range(10):
        customer = make.customer(shop, phone=f"+346150{n:05d}", phone_e164=f"+346150{n:05d}")
        fields = {"wamid": f"wamid.bf-{n}", "status": "delivered"} if n < 4 else {"status": "queued"}
        make.message(campaign, customer, phone=customer.phone_e164, **fields)
    make.recount(campaign)
    with Session(make.engine) as session, session.begin():
        reason = HaltReason("131048", "Spam rate limit hit", "Too many customers blocked the number.")
        assert halt_campaign(session, shop.id, campaign.id, reason)
    return campaign


def test_a_halted_campaign_says_why_and_resumes_what_never_left(page, make, meta, run_jobs):
    campaign = _halted(make)
    token = session_token(SHOP, exp=int(time.time()) + 600)
    page.goto(f"{page.base}/campaigns/{campaign.id}?" + admin_query(SHOP, token))
    banner = page.locator("[data-halted]")
    said = banner.inner_text()
    assert "131048" in said and "6 messages of this campaign were never sent" in said
    # The reason is one the merchant can act on: Meta's remedy for the code, in the banner.
    assert describe("131048").remedy in said
    screenshot(page, "campaign-halted")
    page.get_by_role("button", name="Resume sending").click()
    banner.wait_for(state="detached")  # the page reloads as the resumed campaign
    page.locator("[data-live-status]").filter(has_text="Live").wait_for()
    run_jobs()
    sent_to = sorted(send["to"] for send in meta.sends())
    assert sent_to == [f"+346150{n:05d}" for n in range(4, 10)]
    with Session(make.engine) as session:
        resumed = session.get(Campaign, (campaign.shop_id, campaign.id))
        assert (resumed.halted_code, resumed.submitted_count) == (None, 6)
