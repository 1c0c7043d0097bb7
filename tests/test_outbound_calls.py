"""A request never holds a database transaction open while it waits on Meta: a slow Graph API
must not pin a connection (and its snapshot and locks) for as long as Meta takes."""

from __future__ import annotations

import psycopg
import pytest

from core.db import libpq_url
from tests.graph_recorder import GraphRecorder, recording_servers
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer

IDLE_IN_TRANSACTION = """
    SELECT count(*) FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'
"""


@pytest.fixture
def watched_graph(monkeypatch, service_urls):
    """The Graph API as a recorder that, while each call waits, counts the app's connections
    left idle in a transaction; answers the list of counts."""
    counts: list[int] = []

    def look() -> None:
        with psycopg.connect(libpq_url(service_urls["database_url"])) as watcher:
            counts.append(watcher.execute(IDLE_IN_TRANSACTION).fetchone()[0])

    with recording_servers(1) as (graph_url,):
        GraphRecorder.while_waiting = look
        GraphRecorder.templates = [
            {
                "name": "offer",
                "language": "en",
                "status": "APPROVED",
                "category": "MARKETING",
                "components": [],
            }
        ]
        monkeypatch.setenv("META_GRAPH_URL", graph_url)  # before the app is made (its settings)
        yield counts


def test_launch_waits_on_meta_outside_a_transaction(watched_graph, client, make):
    """The launch checks ask Meta about the template with no transaction of ours open."""
    shop = whatsapp_shop(make)
    make.customer(shop, phone="+34612000001", phone_e164="+34612000001")
    campaign = make.campaign(shop, status="DRAFT", template_name="offer")
    response = client.post(f"/api/campaigns/{campaign.id}/launch", headers=bearer())
    assert response.status_code in (202, 422), response.get_json()
    assert watched_graph and set(watched_graph) == {0}


def test_schedule_waits_on_meta_outside_a_transaction(watched_graph, client, make):
    """Scheduling runs the same checks, also with no transaction open while Meta answers."""
    from datetime import UTC, datetime, timedelta

    shop = whatsapp_shop(make)
    make.customer(shop, phone="+34612000001", phone_e164="+34612000001")
    campaign = make.campaign(shop, status="DRAFT", template_name="offer")
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    response = client.post(
        f"/api/campaigns/{campaign.id}/schedule", json={"scheduled_at": at}, headers=bearer()
    )
    assert response.status_code in (200, 422), response.get_json()
    assert watched_graph and set(watched_graph) == {0}


def test_create_waits_on_meta_outside_a_transaction(watched_graph, client, make):
    """Creating a draft reads the template from Meta with no transaction open."""
    whatsapp_shop(make)
    body = {"name": "Spring", "template": {"name": "offer", "language": "en"}}
    assert client.post("/api/campaigns", json=body, headers=bearer()).status_code == 201
    assert watched_graph and set(watched_graph) == {0}


def test_the_template_list_waits_on_meta_outside_a_transaction(watched_graph, client, make):
    """GET /api/templates holds no transaction while Meta lists the templates."""
    whatsapp_shop(make)
    assert client.get("/api/templates", headers=bearer()).status_code == 200
    assert watched_graph and set(watched_graph) == {0}
