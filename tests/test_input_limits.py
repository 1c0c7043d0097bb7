"""Malformed input gets a clear 4xx, never a 500: cursors, campaign text, concurrent creates."""

from __future__ import annotations

import base64

import pytest

from tests.browser import admin_query
from tests.scenarios import mixed_campaign
from tests.test_campaign_lifecycle_api import _create
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


BAD_DRAFTS = [
    ("NUL in the name", {"name": "Spring\x00sale"}, "name"),
    (
        "NUL in a parameter",
        {"parameters": [{"field": "first_name", "fallback": "a\x00"}, {"text": "x"}]},
        "parameters",
    ),
    ("NUL in a tag", {"audience": {"include_tags": ["vip\x00"], "exclude_tags": []}}, "audience"),
    ("NUL in the template name", {"template": {"name": "offer\x00", "language": "en"}}, "template"),
    ("body parameter over Meta's 1024", {"parameters": [{"text": "x" * 1025}, {"text": "y"}]}, "parameters"),
    (
        "fallback over Meta's 1024",
        {"parameters": [{"field": "first_name", "fallback": "f" * 1025}, {"text": "y"}]},
        "parameters",
    ),
    ("name over 200", {"name": "n" * 201}, "name"),
    ("tag over Shopify's 255", {"audience": {"include_tags": ["t" * 256], "exclude_tags": []}}, "audience"),
]


@pytest.mark.parametrize("case, overrides, field", BAD_DRAFTS, ids=[c for c, _, _ in BAD_DRAFTS])
def test_bad_campaign_text_gets_422_naming_the_field(client, make, meta, case, overrides, field):
    """A NUL character or a text over Meta's (or Shopify's) limit is refused before anything is stored."""
    from tests.meta_stand_in import whatsapp_shop

    whatsapp_shop(make)
    response = _create(client, **overrides)
    assert response.status_code == 422, (case, response.status_code)
    assert field in {e["field"].split(".")[0] for e in response.get_json()["errors"]}, response.get_json()
    assert client.get("/api/campaigns", headers=bearer(SHOP)).get_json()["campaigns"] == []


def test_text_at_meta_limits_is_accepted(client, make, meta):
    """A body parameter of exactly 1024 characters is within Meta's limit."""
    from tests.meta_stand_in import whatsapp_shop

    whatsapp_shop(make)
    response = _create(client, parameters=[{"text": "x" * 1024}, {"text": "y"}])
    assert response.status_code == 201, response.get_json()


def test_two_concurrent_creates_with_one_name_give_201_and_422(client, make, meta, service_urls):
    """While another request's campaign of the same name is being inserted, the second create
    waits for it and then answers 422 naming the field, not 500."""
    import threading

    from sqlalchemy import text

    from core.db import get_engine
    from tests.meta_stand_in import whatsapp_shop

    shop = whatsapp_shop(make)
    answers = {}
    with get_engine(service_urls["database_url"]).connect() as other:
        other.execute(
            text(
                "INSERT INTO campaigns (shop_id, name, type, status, template_name, template_language,"
                " template_category) VALUES (:shop, 'Spring sale', 'PROMOTIONAL', 'DRAFT', 'personal_offer',"
                " 'en', 'MARKETING')"
            ),
            {"shop": shop.id},
        )  # not committed yet: the API's insert must wait on the unique index
        worker = threading.Thread(target=lambda: answers.setdefault("second", _create(client)))
        worker.start()
        worker.join(timeout=3)
        assert worker.is_alive(), "the create should wait on the uncommitted campaign of the same name"
        other.commit()
    worker.join(timeout=30)
    response = answers["second"]
    assert response.status_code == 422, response.status_code
    assert response.get_json()["errors"][0]["field"] == "name"
