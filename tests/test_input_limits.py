"""Malformed input gets a clear 4xx, never a 500: cursors, campaign text, concurrent creates."""

from __future__ import annotations

import base64

import pytest

from tests.browser import admin_query
from tests.scenarios import mixed_campaign
from tests.tokens import bearer, session_token

SHOP = "demo.myshopify.com"


def _cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


BAD_CURSORS = [
    ("deeply nested list", "[" * 100_000 + "]" * 100_000),
    ("Infinity", '["2026-11-01T12:00:00+00:00", Infinity]'),
    ("NaN", "[NaN]"),
    ("-Infinity id", "[-Infinity]"),
    ("float id", "[1.5]"),
    ("id beyond bigint", f"[{10**30}]"),
    ("pair with a huge id", f'["2026-11-01T12:00:00+00:00", {10**30}]'),
    ("nested key", '[["2026-11-01"], [1]]'),
    ("not a list", '{"a": 1}'),
    ("not json", "\x00\xff"),
]


@pytest.fixture
def scenario(make):
    return mixed_campaign(make, make.shop(SHOP, timezone="Europe/Madrid"))


@pytest.mark.parametrize("case, raw", BAD_CURSORS, ids=[c for c, _ in BAD_CURSORS])
def test_a_malformed_cursor_gets_400(client, scenario, case, raw):
    """Every list that pages answers 400 to a cursor it did not give out, however it is broken."""
    cursor = _cursor(raw)
    campaign_id = scenario.campaign.id
    for path in ("/api/campaigns", f"/api/campaigns/{campaign_id}/messages"):
        response = client.get(path, query_string={"cursor": cursor}, headers=bearer(SHOP))
        assert response.status_code == 400, (path, case, response.status_code)
        assert "cursor" in response.get_json()["message"]
    page = client.get("/trends?" + admin_query(SHOP, session_token(SHOP)) + "&cursor=" + cursor)
    assert page.status_code == 400, (case, page.status_code)


def test_a_cursor_the_api_gave_out_still_works(client, scenario, make):
    """The next_cursor of a page opens the next page."""
    for _ in range(3):
        make.campaign(scenario.shop)
    first = client.get("/api/campaigns?limit=2", headers=bearer(SHOP)).get_json()
    second = client.get(f"/api/campaigns?limit=2&cursor={first['next_cursor']}", headers=bearer(SHOP))
    assert second.status_code == 200
    assert {c["id"] for c in first["campaigns"]}.isdisjoint(c["id"] for c in second.get_json()["campaigns"])
