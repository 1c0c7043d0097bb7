"""The embedded pages as HTML documents: auth, content, numbers, fixes, locale and time zone."""

from __future__ import annotations

import re
from html import unescape

import pytest

from tests.browser import admin_query
from tests.scenarios import mixed_campaign
from tests.tokens import session_token

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

SHOP = "demo.myshopify.com"


def _get(client, path, shop=SHOP, **extra):
    separator = "&" if "?" in path else "?"
    return client.get(path + separator + admin_query(shop, session_token(shop), **extra))


def _text(response) -> str:
    """The document's (or an HTML string's) visible text, tags dropped and whitespace folded."""
    raw = response if isinstance(response, str) else response.get_data(as_text=True)
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", raw, flags=re.S)
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))


@pytest.fixture
def scenario(make):
    return mixed_campaign(make, make.shop(SHOP, timezone="Europe/Madrid"))


def test_a_page_without_a_valid_token_goes_to_the_bounce_page(client, scenario):
    """No id_token (or a stale one) sends the browser to the bounce page, which reloads this URL."""
    response = client.get(f"/campaigns/{scenario.campaign.id}?embedded=1&shop={SHOP}&host=x")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/auth/session-token?") and "shopify-reload=%2Fcampaigns%2F" in location


@pytest.mark.smoke
def test_the_app_home_lists_campaigns_with_exact_numbers_and_rates(client, scenario):
    """The campaigns list shows sent, delivered, read and failed with their rates and a status badge."""
    response = _get(client, "/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert (
        "frame-ancestors https://demo.myshopify.com https://admin.shopify.com"
        in response.headers["Content-Security-Policy"]
    )
    assert html.index("app-bridge.js") < html.index("<script", html.index("app-bridge.js") + 1)
    assert "<s-app-nav>" in html and 'aria-label="App"' in html
    row = re.search(rf'<tr data-campaign-id="{scenario.campaign.id}">(.*?)</tr>', html, re.S).group(1)
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", row)))
    assert "Autumn sale" in text and "Partially sent" in text
    # sent 9; delivered 5 (55.6 %); read 3 (at least 60 %); failed 6 (50 % of 12 messages)
    assert "9" in text and "5 55.6%" in text and "3 ≥ 60.0%" in text and "6 50.0%" in text


def test_the_list_filters_and_says_what_to_do_when_empty(client, make):
    """Filters narrow the list; an empty shop and an empty filter each say what to do."""
    shop = make.shop(SHOP)
    assert "No campaigns yet" in _text(_get(client, "/"))
    make.campaign(shop, "Alpha blast", type="PROMOTIONAL", status="SENT")
    make.campaign(shop, "Beta notice", type="INFORMATIONAL", status="PENDING")
    text = _text(_get(client, "/", type="INFORMATIONAL"))
    assert "Beta notice" in text and "Alpha blast" not in text
    assert "No campaigns match these filters" in _text(_get(client, "/", status="FAILED"))
    assert "No campaigns match" in _text(_get(client, "/", **{"from": "2000-01-01", "to": "2000-01-31"}))


def test_the_list_pages_by_key(client, make):
    """With more campaigns than a page, a Next page link carries the cursor and the context."""
    shop = make.shop(SHOP)
    for n in range(3):
        make.campaign(shop, f"C{n}")
    html = _get(client, "/", limit="2").get_data(as_text=True)
    link = unescape(re.search(r'<a data-app-link href="([^"]+)" rel="next">', html).group(1))
    assert "cursor=" in link and "shop=demo.myshopify.com" in link and "id_token" not in link
    second = _text(client.get(link + "&limit=2&id_token=" + session_token(SHOP)))
    assert "C2" in second and "C0" not in second


def test_the_campaign_page_tells_the_whole_story(client, scenario):
    """Funnel, rates with definitions, the audience gap, every signal rule and failures with remedies."""
    text = _text(_get(client, f"/campaigns/{scenario.campaign.id}"))
    assert "Audience estimate 14" in text and "Sent 9" in text and "Delivered 5" in text
    assert "read ÷ delivered; a lower bound" in text
    assert "estimated at 14 customers and 9 messages were sent: 5 fewer" in text
    assert "2 left the audience between the estimate and the send" in text
    assert "3 failed before or at submission" in text
    for signal in ("Low delivery rate", "Low read rate", "Consent failures", "Credit failures"):
        assert signal in text
    assert "Phone data 5 83.3%" in text  # 5 of 6 failures are phone data problems
    assert "The number is not on WhatsApp" in text  # 131026's remedy
    assert "times in Europe/Madrid" in text and "Nov 1, 2026, 1:00 PM" in text


def test_the_banner_counts_calling_code_customers_and_links_to_them(client, scenario):
    """The banner counts customers whose phone lacks a country code and links to exactly them."""
    html = _get(client, f"/campaigns/{scenario.campaign.id}").get_data(as_text=True)
    assert "2 customers</strong>" in html
    link = re.search(r'<a data-app-link href="([^"]+)">Review and fix these customers', html).group(1)
    assert "error_code=CUSTOMER_IS_MISSING_CALLING_CODE" in unescape(link)


def test_the_timings_section_loads_as_a_fragment(client, scenario):
    """The campaign page defers its distributions to a fragment that shows median and p90."""
    text = _text(_get(client, f"/campaigns/{scenario.campaign.id}/timings"))
    assert "Time to deliver Median 22s 90th percentile 40s Messages 5" in text
    assert "Time to read Median 31m" in text


def test_failed_messages_rows_link_to_the_customer_and_suggest_a_number(client, scenario):
    """Each calling-code row opens the customer in the admin beside the list (a new tab, no longer
    the top frame, which replaced the list) and shows a valid suggestion."""
    html = _get(client, f"/campaigns/{scenario.campaign.id}/messages").get_data(as_text=True)
    lopez = scenario.customers["lopez"]
    row = re.search(rf'<tr data-message-id="{scenario.messages["lopez"].id}".*?</tr>', html, re.S).group(0)
    assert f'href="shopify://admin/customers/{lopez.shopify_customer_id}" target="_blank"' in row
    assert "+34612345679" in row and "data-fix-slot" in row
    noor = re.search(rf'<tr data-message-id="{scenario.messages["nocountry"].id}".*?</tr>', html, re.S).group(
        0
    )
    assert "No valid number follows from the customer" in noor and "Suggested" not in noor
    assert len(re.findall(r"<tr data-message-id=", html)) == 6  # failed or expired, by default


def test_failed_messages_filter_and_search(client, scenario):
    """Category, code and search narrow the table; status=all lists every message."""
    assert (
        len(
            re.findall(
                r"<tr data-message-id=",
                _get(client, f"/campaigns/{scenario.campaign.id}/messages", category="delivery").get_data(
                    as_text=True
                ),
            )
        )
        == 1
    )
    text = _text(_get(client, f"/campaigns/{scenario.campaign.id}/messages", q="Nocountry"))
    assert "Noor Nocountry" in text and "Lucía" not in text
    all_rows = _get(client, f"/campaigns/{scenario.campaign.id}/messages", status="all").get_data(
        as_text=True
    )
    assert len(re.findall(r"<tr data-message-id=", all_rows)) == 12
    assert "No messages match" in _text(_get(client, f"/campaigns/{scenario.campaign.id}/messages", q="zzz"))


def test_the_page_csv_download_matches_the_filters(client, scenario):
    """The page's download link returns the filtered rows as an attachment."""
    response = _get(client, f"/campaigns/{scenario.campaign.id}/messages.csv", error_code="131026")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    lines = response.get_data(as_text=True).strip().splitlines()
    assert lines[0].startswith("message_id,wamid,status") and len(lines) == 3


def test_numbers_follow_the_shop_locale(client, make):
    """A German shop reads 1.234 and 55,6 %; the page declares its language."""
    shop = make.shop(SHOP, locale="de", timezone="Europe/Berlin")
    make.campaign(shop, "Groß", status="SENT", sent_count=1234, delivered_count=1000, messages_count=1300)
    html = _get(client, "/").get_data(as_text=True)
    assert '<html lang="de">' in html and "1.234" in html and "81,0\xa0%" in html


def test_another_shops_campaign_page_is_404(client, make, scenario):
    """Another shop's token cannot open this shop's campaign or its messages."""
    make.shop("other.myshopify.com")
    for path in ("", "/messages", "/messages.csv", "/timings"):
        response = _get(client, f"/campaigns/{scenario.campaign.id}{path}", shop="other.myshopify.com")
        assert response.status_code == 404


def test_trends_page_shows_charts_and_the_like_for_like_table(client, scenario):
    """The trends page draws both rate charts and compares each type with the previous period."""
    text = _text(_get(client, "/trends", **{"from": "2026-10-01", "to": "2026-11-30"}))
    assert "Delivery rate over time" in text and "Read rate over time" in text
    assert "Like for like" in text and "Promotional 1 9 55.6%" in text
    assert "Autumn sale" in text  # each campaign against the type median
    assert "No settled campaigns in this period" in _text(
        _get(client, "/trends", **{"from": "2025-01-01", "to": "2025-02-01"})
    )
