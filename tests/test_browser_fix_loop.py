"""The fix loop in a real headless chromium on the demo shop (sim/demo_seed.json, with the
Shopify stand-in holding its customers): preview, Fix all, per-row outcomes as the job runs,
then Send again, and the two campaign pages linking each other."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Campaign
from core.reports.campaign import missing_calling_code
from core.settings import PROJECT_ROOT
from tests.browser import admin_query, screenshot, serve
from tests.test_browser_fix_phone import page  # noqa: F401  (the same headless tab)
from tests.tokens import session_token

pytestmark = pytest.mark.browser

SHOP = "demo.myshopify.com"
DEMO = PROJECT_ROOT / "sim" / "demo_seed.json"


@pytest.fixture
def base_url(shopify, service_urls):
    from web import create_app

    with serve(create_app({"APP_ENV": "test", "TESTING": True, "LIVE_POLL_MS": 300})) as url:
        yield url


def _demo_shop(runner, shopify) -> None:
    """Load the demo shop and give the Shopify stand-in the same customers."""
    assert runner.invoke(args=["seed", str(DEMO)]).exit_code == 0
    shopify.put_customers(SHOP, json.loads(DEMO.read_text())["shops"][0]["customers"])


def _url(base_url: str, path: str) -> str:
    return f"{base_url}{path}?" + admin_query(SHOP, session_token(SHOP, exp=int(time.time()) + 600))


def _campaign(make, name: str) -> Campaign:
    with Session(make.engine) as session:
        return session.scalar(select(Campaign).where(Campaign.name == name))


def test_fix_all_then_send_again_on_the_demo_shop(page, base_url, shopify, make, runner, run_jobs):  # noqa: F811
    """The preview lists every fixable failure with its suggestion; "Fix all" writes them to
    Shopify (each row's outcome shows as the job goes); "Send again" drafts a campaign to
    exactly the fixed customers, and each campaign page links the other."""
    _demo_shop(runner, shopify)
    black_friday = _campaign(make, "Black Friday preview")
    page.goto(_url(base_url, f"/campaigns/{black_friday.id}"))
    page.locator("[data-fix-all-link]").click()
    page.wait_for_url(f"**/campaigns/{black_friday.id}/fixes?**")
    suggestions = {}
    for row in page.locator("tr[data-candidate]").all():
        text = row.locator("td[data-suggested]").inner_text()
        if text.startswith("+"):
            suggestions[int(row.get_attribute("data-candidate"))] = text
    fixable = list(suggestions)
    # A marketing campaign sent again fails for US numbers: the list says so before "Fix all".
    us = {
        int(r.get_attribute("data-candidate"))
        for r in page.locator("tr[data-candidate]:has([data-us-fix])").all()
    }
    assert us and all(suggestions[sid].startswith("+1") for sid in us)
    assert page.locator("[data-us-fix-warning]").is_visible()
    assert len(fixable) >= 30  # every calling-code failure with a country, and invalid ones we can read
    screenshot(page, "fix_loop_preview")

    page.get_by_role("button", name=f"Fix all {len(fixable)}").click()
    # Fix all asks first (issue 26): nothing is written to Shopify before the confirmation.
    page.get_by_role("dialog").wait_for()
    assert shopify.customer(SHOP, fixable[0])["phone"] != suggestions[fixable[0]]
    page.get_by_role("button", name=f"Write {len(fixable)} numbers to Shopify").click()
    page.locator("[data-fix-progress]").wait_for()
    run_jobs()  # the worker writes every number to Shopify
    page.locator("[data-live-status]").filter(has_text="Done").wait_for(timeout=20_000)
    rows = page.locator("tr[data-fix-row]")
    assert rows.count() == len(fixable)
    assert page.locator('tr[data-fix-row][data-fix-state="fixed"]').count() == len(fixable)
    screenshot(page, "fix_loop_fixed")
    assert {sid: shopify.customer(SHOP, sid)["phone"] for sid in suggestions} == suggestions

    page.get_by_role("button", name="Send again to fixed customers").click()
    follow_up_link = page.locator("#region-again [data-follow-up]")
    follow_up_link.wait_for()
    follow_up_link.click()
    page.wait_for_url("**/campaigns/*?**")
    assert page.locator("#region-fix-loop").get_by_role("link", name="Black Friday preview").count() == 1
    draft = _campaign(make, "Black Friday preview (sent again)")
    assert draft.status == "DRAFT" and draft.follow_up_of == black_friday.id
    assert draft.estimated_audience == len(fixable)
    screenshot(page, "fix_loop_send_again")
    page.goto(_url(base_url, f"/campaigns/{black_friday.id}"))
    assert page.locator("#region-fix-loop [data-follow-up]").inner_text() == draft.name
    # The banner counted before "Fix all" is not served stale after it (issue 26), and it never
    # turns green: those customers still did not get the campaign.
    with Session(make.engine) as session:
        now = missing_calling_code(session, black_friday.shop_id, black_friday.id)
    assert now["fixed"] > 0
    banner = page.locator("[data-calling-code-banner]")
    unfixed = now["customers"] - now["fixed"]
    assert banner.get_attribute("tone") == ("warning" if unfixed else "info")
    expected = f"{now['fixed']} of them now" if unfixed else "now have a valid number"
    assert expected in banner.inner_text()
