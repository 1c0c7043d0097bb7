"""Shop alerts as the merchant sees them: the JSON list and its dismissal, and the banners of the
app home and the campaign page (core/reports/alerts.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import ShopAlert
from core.rules.failure_codes import CATEGORY_REMEDIES, Category, describe
from tests.browser import admin_query
from tests.tokens import bearer, session_token

SHOP = "demo.myshopify.com"
OTHER = "other.myshopify.com"
NOW = datetime.now(UTC)


def _alert(make, shop, code: str, minutes_ago: int = 0, **fields) -> ShopAlert:
    fields.setdefault("title", f"Title of {code}")
    fields.setdefault("details", f"Details of {code}")
    alert = ShopAlert(shop_id=shop.id, code=code, created_at=NOW - timedelta(minutes=minutes_ago), **fields)
    with Session(make.engine, expire_on_commit=False) as session, session.begin():
        session.add(alert)
    return alert


def _open_ids(make, shop) -> list[int]:
    with Session(make.engine) as session:
        return list(
            session.scalars(
                select(ShopAlert.id)
                .where(ShopAlert.shop_id == shop.id, ShopAlert.resolved_at.is_(None))
                .order_by(ShopAlert.id)
            )
        )


def _listed(client, shop: str = SHOP) -> list[dict]:
    return client.get("/api/alerts", headers=bearer(shop)).get_json()["alerts"]


def _dismiss(client, alert_id: int, shop: str = SHOP) -> int:
    return client.post(f"/api/alerts/{alert_id}/dismiss", headers=bearer(shop)).status_code


def _page_text(client, path: str, shop: str = SHOP) -> str:
    response = client.get(f"{path}?" + admin_query(shop, session_token(shop)))
    assert response.status_code == 200
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.get_data(as_text=True), flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def shops(make):
    return make.shop(SHOP, timezone="Europe/Madrid"), make.shop(OTHER)


def test_the_api_lists_the_shops_open_alerts_newest_first_with_what_to_do(client, make, shops):
    """Open alerts of the token's shop only, newest first, each with a remedy and its campaign or null."""
    shop, other = shops
    campaign = make.campaign(shop, "Autumn sale", status="PENDING")
    halted = _alert(
        make,
        shop,
        "131031",
        minutes_ago=5,
        campaign_id=campaign.id,
        title="Campaign stopped: The WhatsApp Business account is locked",
        details="Dispatch stopped: WhatsApp locked the account.",
    )
    account = _alert(make, shop, "368", minutes_ago=1, title="Temporarily blocked for policy violations")
    _alert(make, shop, "131042", minutes_ago=2, resolved_at=NOW)
    _alert(make, other, "131031", minutes_ago=0)

    body = client.get("/api/alerts", headers=bearer(SHOP)).get_json()

    assert [a["id"] for a in body["alerts"]] == [account.id, halted.id]
    newest, oldest = body["alerts"]
    assert set(newest) >= {"id", "code", "title", "details", "remedy", "campaign", "created_at"}
    assert newest["code"] == "368" and newest["campaign"] is None
    assert newest["title"] == describe("368").title  # the plain title, Meta's own words kept in details
    assert "Temporarily blocked for policy violations" in newest["details"]
    assert newest["remedy"] == describe("368").remedy
    assert oldest["campaign"] == {"id": campaign.id, "name": "Autumn sale"}
    assert oldest["title"] == "Campaign stopped: The WhatsApp Business account is locked"
    assert oldest["details"] == "Dispatch stopped: WhatsApp locked the account."
    assert oldest["remedy"] == describe("131031").remedy
    assert datetime.fromisoformat(oldest["created_at"]) == halted.created_at


def test_our_own_alert_codes_each_say_what_to_do(client, make, shops):
    """Launch checks, the connection re-check, consent webhooks and refused stops have their own
    remedies; an account error Meta gives no known code for gets the account remedy."""
    shop, _ = shops
    campaign = make.campaign(shop, "Weekend", status="DRAFT")
    _alert(make, shop, "LAUNCH_CHECKS_FAILED", campaign_id=campaign.id)
    for code in ("WHATSAPP_CHECK_REFUSED", "CONSENT_WEBHOOK_UNREADABLE", "CONSENT_WRITEBACK_REFUSED"):
        _alert(make, shop, code)
    _alert(make, shop, "unknown", title="", details="Something odd")

    alerts = {a["code"]: a for a in client.get("/api/alerts", headers=bearer(SHOP)).get_json()["alerts"]}

    assert set(alerts) == {
        "LAUNCH_CHECKS_FAILED",
        "WHATSAPP_CHECK_REFUSED",
        "CONSENT_WEBHOOK_UNREADABLE",
        "CONSENT_WRITEBACK_REFUSED",
        "unknown",
    }
    remedies = [a["remedy"] for a in alerts.values()]
    assert all(remedies) and len(set(remedies)) == len(remedies)
    assert "Settings" in alerts["WHATSAPP_CHECK_REFUSED"]["remedy"]
    assert alerts["unknown"]["remedy"] == CATEGORY_REMEDIES[Category.ACCOUNT]
    assert alerts["unknown"]["title"]  # never an empty heading
    assert alerts["LAUNCH_CHECKS_FAILED"]["campaign"] == {"id": campaign.id, "name": "Weekend"}


def test_an_alert_raised_again_while_open_shows_once(client, make, shops):
    """Three open alerts of one code and campaign are one entry (the newest, with how many);
    dismissing it closes the three."""
    shop, _ = shops
    for n in range(3):
        newest = _alert(make, shop, "CONSENT_WEBHOOK_UNREADABLE", minutes_ago=10 - n, details=f"customer {n}")
    _alert(make, shop, "190", minutes_ago=30)

    alerts = client.get("/api/alerts", headers=bearer(SHOP)).get_json()["alerts"]

    assert [a["code"] for a in alerts] == ["CONSENT_WEBHOOK_UNREADABLE", "190"]
    assert alerts[0]["id"] == newest.id and alerts[0]["details"] == "customer 2" and alerts[0]["count"] == 3
    assert client.post(f"/api/alerts/{newest.id}/dismiss", headers=bearer(SHOP)).status_code == 204
    assert [a["code"] for a in _listed(client)] == ["190"]


def test_dismissing_resolves_the_alert_and_another_shops_alert_is_404(client, make, shops):
    """Dismiss answers 204 and the alert leaves the list; another shop's alert or an unknown id is 404."""
    shop, other = shops
    mine = _alert(make, shop, "131048")
    theirs = _alert(make, other, "131048")

    assert client.post(f"/api/alerts/{theirs.id}/dismiss", headers=bearer(SHOP)).status_code == 404
    assert client.post("/api/alerts/9223372036854775807/dismiss", headers=bearer(SHOP)).status_code == 404
    assert _open_ids(make, other) == [theirs.id]

    response = client.post(f"/api/alerts/{mine.id}/dismiss", headers=bearer(SHOP))
    assert response.status_code == 204 and response.get_data() == b""
    assert _open_ids(make, shop) == []
    assert client.get("/api/alerts", headers=bearer(SHOP)).get_json() == {"alerts": []}
    assert _dismiss(client, mine.id) == 204  # again: nothing to do
    assert [a["id"] for a in _listed(client, OTHER)] == [theirs.id]


def test_an_alert_the_app_resolves_itself_leaves_the_list(client, make, shops):
    """A connection check Meta accepts again closes its alert (core/whatsapp/recheck.py)."""
    from core.whatsapp.recheck import _resolve_alert

    shop, _ = shops
    _alert(make, shop, "WHATSAPP_CHECK_REFUSED")
    assert len(client.get("/api/alerts", headers=bearer(SHOP)).get_json()["alerts"]) == 1
    with Session(make.engine) as session, session.begin():
        _resolve_alert(session, shop.id)
    assert client.get("/api/alerts", headers=bearer(SHOP)).get_json()["alerts"] == []


def test_the_app_home_shows_open_alerts_with_what_to_do_until_dismissed(client, make, shops):
    """The campaigns list opens with each open alert's title, remedy, a link to act and Dismiss."""
    shop, _ = shops
    campaign = make.campaign(shop, "Autumn sale", status="PENDING")
    halted = _alert(make, shop, "131031", campaign_id=campaign.id, title="Campaign stopped: account locked")
    _alert(make, shop, "WHATSAPP_CHECK_REFUSED", title="Meta refused the WhatsApp connection check")

    response = client.get("/?" + admin_query(SHOP, session_token(SHOP)))
    html = response.get_data(as_text=True)
    text = _page_text(client, "/")

    assert "Campaign stopped: account locked" in text and describe("131031").remedy in text
    assert "Meta refused the WhatsApp connection check" in text
    assert text.index("Campaign stopped") < text.index("Autumn sale", text.index("Campaign stopped") + 20)
    assert re.search(rf'<s-banner tone="critical"[^>]*data-alert="{halted.id}"', html)
    assert f'data-api-action="/api/alerts/{halted.id}/dismiss"' in html
    assert re.search(rf'href="/campaigns/{campaign.id}\?[^"]*"', html)  # where to act
    assert re.search(r'href="/settings\?[^"]*#whatsapp"', html)

    assert client.post(f"/api/alerts/{halted.id}/dismiss", headers=bearer(SHOP)).status_code == 204
    text = _page_text(client, "/")
    assert "Campaign stopped: account locked" not in text and "Meta refused the WhatsApp" in text


def test_the_campaign_page_shows_that_campaigns_open_alerts(client, make, shops):
    """A campaign's page shows its own alerts with their remedy, not the shop's other alerts."""
    shop, _ = shops
    campaign = make.campaign(shop, "Weekend", status="DRAFT")
    elsewhere = make.campaign(shop, "Elsewhere", status="DRAFT")
    code = "LAUNCH_CHECKS_FAILED"
    mine = _alert(
        make, shop, code, campaign_id=campaign.id, title="Scheduled campaign 'Weekend' was not sent"
    )
    _alert(make, shop, code, campaign_id=elsewhere.id, title="Scheduled 'Elsewhere' not sent")
    _alert(make, shop, "368", title="Blocked")

    text = _page_text(client, f"/campaigns/{campaign.id}")
    remedy = client.get("/api/alerts", headers=bearer(SHOP)).get_json()["alerts"][-1]["remedy"]

    assert "Scheduled campaign 'Weekend' was not sent" in text and remedy in text
    assert "Elsewhere' not sent" not in text and describe("368").title not in text

    assert client.post(f"/api/alerts/{mine.id}/dismiss", headers=bearer(SHOP)).status_code == 204
    assert "was not sent" not in _page_text(client, f"/campaigns/{campaign.id}")


def test_account_codes_meta_reports_say_what_to_do_and_133010_says_register_by_api(client, make, shops):
    """Account errors Meta reports for the reviewed codes are critical, in Meta-free plain titles,
    each with its own remedy; 133010's says the number is registered by API with its PIN
    (Meta: not in WhatsApp Manager)."""
    shop, _ = shops
    codes = ("133010", "33", "131037", "131063", "131064")
    for code in codes:
        _alert(make, shop, code, title=f"(#{code}) Meta's words")
    alerts = {a["code"]: a for a in _listed(client)}
    assert set(alerts) == set(codes)
    assert all(a["tone"] == "critical" and a["title"] == describe(c).title for c, a in alerts.items())
    assert len({a["remedy"] for a in alerts.values()}) == len(codes)
    assert "POST /{phone-number-id}/register" in alerts["133010"]["remedy"]
    assert "PIN" in alerts["133010"]["remedy"]
