"""What a campaign's status says (core/reports/status.py), without a browser: the badge and
sentence of a campaign whose dispatch has finished but whose reports have not all arrived, plural
rules by locale, and pages that show a draft, a scheduled or a cancelled campaign for what it is."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from sqlalchemy.orm import Session

from core.models import Campaign
from core.reports.metrics import signal_rules
from core.reports.status import has_report, next_action, status_line
from tests.browser import admin_query
from tests.scenarios import T0, mixed_campaign
from tests.tokens import bearer, session_token

SHOP = "demo.myshopify.com"


def _campaign(**fields) -> Campaign:
    counts = {
        "estimated_audience": 0,
        "messages_count": 0,
        "sent_count": 0,
        "delivered_count": 0,
        "failed_count": 0,
    }
    return Campaign(**{**counts, **fields})


def _page_text(client, path: str) -> str:
    html = client.get(f"{path}?" + admin_query(SHOP, session_token(SHOP))).get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


def test_a_finished_dispatch_says_sent_with_the_reports_still_pending():
    """Dispatch over, 1,234 messages without a delivery or failure: "Sent", not "Sending", and not moving."""
    campaign = _campaign(
        status="PENDING",
        messages_count=1300,
        sent_count=1300,
        delivered_count=60,
        failed_count=6,
        dispatch_finished_at=T0,
    )
    line = status_line(campaign)
    assert line.label == "Sent · 1,234 reports still pending"
    assert line.pending_reports == 1234 and line.moving is False
    assert "1,234 messages have not reported delivered or failed yet" in line.sentence
    assert "30 days" in line.sentence


def test_one_pending_report_is_singular_and_numbers_follow_the_locale():
    """Plural forms come from the locale's rule; numbers are written the locale's way."""
    one = _campaign(
        status="PENDING", messages_count=3, sent_count=3, delivered_count=2, dispatch_finished_at=T0
    )
    assert status_line(one).label == "Sent · 1 report still pending"
    many = _campaign(status="PENDING", messages_count=1234, sent_count=1234, dispatch_finished_at=T0)
    assert status_line(many, "fr").label == "Sent · 1\u202f234 reports still pending"


def test_only_a_campaign_still_handing_messages_over_is_moving():
    """Sending (dispatch running) moves; a draft, a scheduled, a halted or a settled campaign does not."""
    sending = _campaign(status="PENDING", estimated_audience=10, messages_count=10, sent_count=4)
    assert status_line(sending).label == "Sending" and status_line(sending).moving
    assert "4 messages of 10 handed to WhatsApp" in status_line(sending).sentence
    halted = _campaign(
        status="PENDING", messages_count=10, sent_count=4, halted_reason="Sending stopped. Paused."
    )
    assert status_line(halted).label == "Stopped" and not status_line(halted).moving
    over = _campaign(
        status="PENDING",
        messages_count=10,
        sent_count=4,
        failed_count=6,
        dispatch_finished_at=T0,
        halted_reason="x",
    )
    assert status_line(over).label == "Stopped · 4 reports still pending"
    assert next_action(over, status_line(over), [], 3).code == "resume"
    for status in ("DRAFT", "SCHEDULED", "CANCELLED", "SENT", "PARTIALLY_SENT", "FAILED"):
        assert not status_line(_campaign(status=status)).moving, status
    assert "Final numbers" in status_line(_campaign(status="SENT")).sentence
    assert "Final numbers" not in status_line(_campaign(status="CANCELLED")).sentence


def test_the_next_action_is_one_and_the_most_urgent():
    """Phones to fix come before a signal; a draft's is to launch; nothing to do says so."""
    sent = _campaign(status="PARTIALLY_SENT", messages_count=5, delivered_count=3, failed_count=2)
    line = status_line(sent)
    signal = [{"code": "PHONE_DATA_FAILURES", "message": "Some phone numbers are missing."}]
    assert next_action(sent, line, signal, 2).code == "fix_phones"
    assert "2 customers' phone numbers" in next_action(sent, line, signal, 2).text
    assert next_action(sent, line, signal, 0).text == "Some phone numbers are missing."
    assert next_action(sent, line, [], 0).code == "none"
    draft = _campaign(status="DRAFT")
    assert next_action(draft, status_line(draft), [], 0).code == "launch"
    assert not has_report(draft) and has_report(sent)


def test_the_api_and_the_page_say_sent_with_pending_reports(client, make):
    """The JSON's status_line and the page agree; the page no longer says "Live" or "Sending"."""
    scenario = mixed_campaign(make, make.shop(SHOP), status="PENDING")
    with Session(make.engine) as session, session.begin():
        session.get(Campaign, (scenario.campaign.shop_id, scenario.campaign.id)).dispatch_finished_at = T0
    answer = client.get(f"/api/campaigns/{scenario.campaign.id}", headers=bearer(SHOP)).get_json()
    assert answer["status"] == "PENDING"  # the contract's status is unchanged
    assert answer["status_line"]["label"] == "Sent · 1 report still pending"
    text = _page_text(client, f"/campaigns/{scenario.campaign.id}")
    assert "Sent · 1 report still pending" in text and "1 message has not reported" in text
    assert "Live:" not in text and "Sending" not in text.split("Summary")[0]
    assert "Sent · 1 report still pending" in _page_text(client, "/")


@pytest.mark.parametrize("status", ["DRAFT", "SCHEDULED", "CANCELLED"])
def test_a_campaign_that_sent_nothing_shows_what_it_will_send_not_a_report(client, make, status):
    """No funnel, no audience gap, no "Final numbers": the audience rule, the estimate and the next step."""
    shop = make.shop(SHOP)
    for n in range(3):
        make.customer(shop, phone=f"+3461234567{n}", phone_e164=f"+3461234567{n}", tags=["vip"])
    campaign = make.campaign(
        shop,
        "Winter teaser",
        status=status,
        estimated_audience=53,
        audience={"include_tags": ["vip"]},
        scheduled_at=T0 + timedelta(days=400) if status == "SCHEDULED" else None,
    )
    text = _page_text(client, f"/campaigns/{campaign.id}")
    for false_text in ("left the audience", "Final numbers", "Funnel", "Failures by reason", "Live:"):
        assert false_text not in text, false_text
    assert "tagged with any of vip" in text
    if status == "CANCELLED":
        assert "estimated at 53 customers; nothing was sent and nothing was charged" in text
    else:
        assert "Launching now would send to 3 customers" in text and "Cost (estimate)" in text


def test_signal_rules_read_as_english():
    """Every signal rule's condition reads right: "an account reason", never "a account"."""
    conditions = [rule.condition for rule in signal_rules()]
    assert "any message failed for an account reason" in conditions
    assert not [c for c in conditions if " a a" in c or " a e" in c or " a u" in c or " a o" in c]
