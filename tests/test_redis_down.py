"""Redis is optional for reading: with Redis down (PostgreSQL fine) the campaign API and pages
answer 200 from the database, and fixing a phone does not turn into a 500 after Shopify took it."""

from __future__ import annotations

import pytest

from tests import test_api_fix_phone, test_reconciler
from tests.browser import admin_query
from tests.scenarios import mixed_campaign
from tests.shopify_stand_in import installed_shop
from tests.test_api_fix_phone import LOPEZ, SHOP, _ours
from tests.tokens import bearer, session_token

redis_down_client = test_reconciler.redis_down_client  # the fixtures, shared
world = test_api_fix_phone.world
# Tests ask for the stand-ins before redis_down_client: the app reads their URLs when made.


@pytest.fixture
def scenario(shopify, make):
    """A shop installed on the Shopify stand-in with a campaign of every kind of outcome."""
    return mixed_campaign(make, installed_shop(make, shopify, SHOP))


def test_the_campaign_api_answers_without_redis(scenario, redis_down_client):
    """The list, one campaign, its messages and its progress: 200 with Redis down."""
    campaign_id = scenario.campaign.id
    for path in (
        "/api/campaigns",
        f"/api/campaigns/{campaign_id}",
        f"/api/campaigns/{campaign_id}/messages",
        f"/api/campaigns/{campaign_id}/progress",
    ):
        response = redis_down_client.get(path, headers=bearer(SHOP))
        assert response.status_code == 200, (path, response.status_code)
    campaign = redis_down_client.get(f"/api/campaigns/{campaign_id}", headers=bearer(SHOP)).get_json()
    assert (
        campaign["metrics"]["messages"] == scenario.campaign.messages_count or campaign["metrics"]["messages"]
    )


def test_the_pages_answer_without_redis(scenario, redis_down_client):
    """The campaigns list, the campaign page and its failed messages render with Redis down."""
    query = admin_query(SHOP, session_token(SHOP))
    campaign_id = scenario.campaign.id
    for path in ("/", f"/campaigns/{campaign_id}", f"/campaigns/{campaign_id}/messages?status=failed"):
        response = redis_down_client.get(f"{path}{'&' if '?' in path else '?'}{query}")
        assert response.status_code == 200, (path, response.status_code)


def test_fix_phone_after_shopify_accepted_is_not_a_500(world, make, redis_down_client):
    """Shopify takes the corrected number; with Redis down the answer is still the updated customer."""
    response = redis_down_client.post(f"/api/customers/{LOPEZ}/fix-phone", headers=bearer(SHOP))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["phone"] == "+34612345679"
    assert _ours(make).phone_e164 == "+34612345679"
