"""Settings for outcomes: the tracked-link base URL, the attribution window and the rate card
override (checked, then used for cost), and the credit balance with its movements."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from core.outcomes.credits import GRANT, move_credits
from tests.browser import admin_query
from tests.tokens import bearer, session_token

SHOP = "demo.myshopify.com"


def _page(client) -> str:
    html = client.get("/settings?" + admin_query(SHOP, session_token(SHOP))).get_data(as_text=True)
    return re.sub(r"\s+", " ", html)


def test_settings_show_the_tracking_url_window_rates_and_credits(client, make):
    """The page shows the URL to paste into Meta's editor, the window, Meta's card with its
    effective date, and the balance with its movements."""
    shop = make.shop(SHOP)
    with Session(make.engine) as session, session.begin():
        move_credits(session, shop.id, GRANT, 500, note="top-up")
    html = _page(client)
    assert re.search(r"<code data-tracking-url>http://localhost/r/\{\{1\}\}</code>", html)
    assert 'name="attribution_window_days" type="number" min="1" max="90" value="7"' in html
    assert "effective 2025-07-01" in html
    assert "<strong data-credit-balance>500</strong>" in html
    assert '<tr data-movement="grant">' in html and "top-up" in html


def test_the_window_and_rate_card_are_checked_then_used(client, make):
    """Bad values answer 422 naming the field and change nothing; good ones are stored and
    the campaign's cost follows the merchant's own rates."""
    shop = make.shop(SHOP, currency="EUR")
    bad = client.put(
        "/api/settings/outcomes",
        json={"attribution_window_days": 0, "rate_card": {"currency": "EURO", "rates": {}}},
        headers=bearer(),
    )
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json["errors"]} == {"attribution_window_days", "rate_card"}
    assert client.get("/api/settings/outcomes", headers=bearer()).json["attribution_window_days"] == 7

    card = {"currency": "EUR", "rates": {"ES": {"marketing": "0.0500"}, "*": {"marketing": "0.0700"}}}
    good = client.put(
        "/api/settings/outcomes", json={"attribution_window_days": 14, "rate_card": card}, headers=bearer()
    )
    assert good.status_code == 200 and good.json["attribution_window_days"] == 14
    campaign = make.campaign(shop, "Costed", status="SENT")
    now = datetime.now(UTC)
    for n, phone in enumerate(["+34612345678", "+34612345679", "+4915112345678"]):
        make.message(
            campaign, make.customer(shop), wamid=f"w{n}", status="delivered", phone=phone, delivered_at=now
        )
    make.recount(campaign)
    answer = client.get(f"/api/campaigns/{campaign.id}", headers=bearer()).json
    assert answer["cost"] == {"amount": "0.1700", "currency": "EUR"}  # 2 × 0.05 (ES) + 0.07 (DE: "*")
    assert client.put("/api/settings/outcomes", json={"rate_card": None}, headers=bearer()).status_code == 200
    answer = client.get(f"/api/campaigns/{campaign.id}", headers=bearer()).json
    assert answer["cost"]["currency"] == "USD"  # Meta's card again
