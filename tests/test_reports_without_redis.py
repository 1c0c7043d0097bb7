"""The campaign reports answer the same with Redis down: the cache only saves work."""

from __future__ import annotations

import pytest

from tests.browser import admin_query
from tests.scenarios import mixed_campaign
from tests.tokens import bearer, session_token

SHOP = "demo.myshopify.com"
# A loopback port where nothing listens: every Redis call fails at once.
UNREACHABLE_REDIS = "redis://127.0.0.1:9/0"


@pytest.fixture
def scenario(make):
    return mixed_campaign(make, make.shop(SHOP, timezone="Europe/Madrid"), status="PENDING")


def _reports(client, campaign_id: int) -> dict:
    paths = [f"/api/campaigns/{campaign_id}", f"/api/campaigns/{campaign_id}/timings", "/api/campaigns"]
    answers = {path: client.get(path, headers=bearer()) for path in paths}
    assert {path: answer.status_code for path, answer in answers.items()} == dict.fromkeys(paths, 200)
    return {path: answer.get_json() for path, answer in answers.items()}


def test_reports_and_pages_answer_the_same_with_redis_unreachable(app, scenario):
    """With Redis unreachable the detail, timings, list and campaign page answer 200 with the
    same report as with Redis up."""
    from web import create_app

    with_redis = _reports(app.test_client(), scenario.campaign.id)
    without = create_app({"APP_ENV": "test", "TESTING": True, "REDIS_URL": UNREACHABLE_REDIS}).test_client()
    assert _reports(without, scenario.campaign.id) == with_redis
    query = admin_query(SHOP, session_token(SHOP))
    page = without.get(f"/campaigns/{scenario.campaign.id}?{query}")
    assert page.status_code == 200 and "131026" in page.get_data(as_text=True)
