"""A shop runs at most two CSV exports at once: the next answers 429 with Retry-After, and a
slot comes back when an export ends, when its client goes away, or (a crashed web process)
when its lease in Redis expires; without Redis each web process holds the limit itself."""

from __future__ import annotations

import time

import pytest

from tests.browser import admin_query
from tests.scenarios import mixed_campaign
from tests.tokens import bearer, session_token
from web import create_app

SHOP, OTHER = "demo.myshopify.com", "other.myshopify.com"


@pytest.fixture
def campaigns(make):
    """A campaign in each of two shops."""
    return {domain: mixed_campaign(make, make.shop(domain)).campaign for domain in (SHOP, OTHER)}


def _export(client, campaign, shop: str = SHOP):
    """Start an export as a browser does: the answer's head, and its first chunk read."""
    response = client.get(f"/api/campaigns/{campaign.id}/messages.csv", headers=bearer(shop))
    if response.status_code == 200:
        next(iter(response.response))  # the header row: the stream has begun
    return response


def test_a_third_export_at_once_answers_429_with_retry_after(client, campaigns):
    """Two exports of one shop stream side by side; a third answers 429 with Retry-After and a
    message saying why, as JSON; another shop's export is not held up."""
    first, second = _export(client, campaigns[SHOP]), _export(client, campaigns[SHOP])
    assert (first.status_code, second.status_code) == (200, 200)
    third = _export(client, campaigns[SHOP])
    assert third.status_code == 429
    assert int(third.headers["Retry-After"]) > 0
    body = third.get_json()
    assert body["error"] == "too_many_exports"
    assert "2 exports" in body["message"]
    other = _export(client, campaigns[OTHER], OTHER)
    assert other.status_code == 200
    for response in (first, second, other):
        response.close()


def test_the_page_s_download_shares_the_limit(client, campaigns):
    """The Export link of the messages page counts against the same two slots."""
    held = [_export(client, campaigns[SHOP]) for _ in range(2)]
    query = admin_query(SHOP, session_token(SHOP))
    page = client.get(f"/campaigns/{campaigns[SHOP].id}/messages.csv?{query}")
    assert page.status_code == 429 and "Retry-After" in page.headers
    for response in held:
        response.close()


def test_a_finished_export_gives_its_slot_back(client, campaigns):
    """An export read to its end frees its slot, even before the server closes the answer."""
    for _ in range(5):
        response = client.get(f"/api/campaigns/{campaigns[SHOP].id}/messages.csv", headers=bearer())
        assert response.status_code == 200
        assert response.get_data(as_text=True).count("\n") == 13  # the header and 12 messages


def test_a_client_that_goes_away_gives_its_slot_back(client, campaigns):
    """A download abandoned half-way, or before its first byte, frees its slot when the server
    closes the answer (what a WSGI server does when the client disconnects)."""
    for _ in range(3):
        _export(client, campaigns[SHOP]).close()
        never_read = client.get(f"/api/campaigns/{campaigns[SHOP].id}/messages.csv", headers=bearer())
        assert never_read.status_code == 200
        never_read.close()
    assert _export(client, campaigns[SHOP]).status_code == 200


def test_a_slot_held_by_a_crashed_process_expires(service_urls, campaigns):
    """A slot whose process died (never closed, never renewed) expires after its lease."""
    app = create_app({"APP_ENV": "test", "TESTING": True, "EXPORT_LEASE_S": 1})
    client = app.test_client()
    abandoned = [_export(client, campaigns[SHOP]) for _ in range(2)]  # noqa: F841  (never closed)
    assert _export(client, campaigns[SHOP]).status_code == 429
    time.sleep(1.2)
    assert _export(client, campaigns[SHOP]).status_code == 200


def test_without_redis_exports_work_and_each_process_holds_the_limit(service_urls, campaigns):
    """With Redis unreachable an export still streams, and this process still refuses a third."""
    app = create_app({"APP_ENV": "test", "TESTING": True, "REDIS_URL": "redis://127.0.0.1:1/0"})
    client = app.test_client()
    held = [_export(client, campaigns[SHOP]) for _ in range(2)]
    assert [r.status_code for r in held] == [200, 200]
    assert _export(client, campaigns[SHOP]).status_code == 429
    held[0].close()
    finished = client.get(f"/api/campaigns/{campaigns[SHOP].id}/messages.csv", headers=bearer())
    assert finished.status_code == 200 and finished.get_data(as_text=True).count("\n") == 13
    held[1].close()
