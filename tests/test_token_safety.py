"""The Meta access token goes only where it must: never into a repr, never to another host."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from core.whatsapp.graph_api import MetaUnavailable, list_templates
from tests.graph_recorder import GraphRecorder, recording_servers
from tests.meta_stand_in import TOKEN, whatsapp_shop
from tests.tokens import bearer


@pytest.fixture
def graph(monkeypatch):
    """Two recorders on loopback: the Graph API the settings name, and another host."""
    with recording_servers(2) as (graph_url, other_url):
        monkeypatch.setenv("META_GRAPH_URL", graph_url)
        yield graph_url, other_url


def test_paging_next_on_another_host_never_gets_the_token(graph):
    """A template list whose paging.next names another host is not followed with the bearer token."""
    graph_url, other_url = graph
    GraphRecorder.next_url = f"{other_url}/thief?after=abc"
    with pytest.raises(MetaUnavailable):
        list_templates("5550001", "secret-meta-token")
    tokens_elsewhere = [auth for host, _, auth in GraphRecorder.seen if not graph_url.endswith(host)]
    assert all(auth is None for auth in tokens_elsewhere)
    assert not [path for _, path, _ in GraphRecorder.seen if "/thief" in path]


def test_paging_next_on_the_graph_host_is_followed(graph):
    """Meta's own next page (same scheme, host and port) is followed with the token."""
    graph_url, _ = graph
    GraphRecorder.next_url = f"{graph_url}/v25.0/5550001/message_templates/thief?after=abc"
    templates = list_templates("5550001", "secret-meta-token")
    assert len(templates) == 2
    assert [auth for _, _, auth in GraphRecorder.seen] == ["Bearer secret-meta-token"] * 2


def test_a_phone_number_list_whose_next_page_is_elsewhere_never_gets_the_token(graph, make):
    """Connecting (PUT /api/whatsapp) reads the WABA's numbers page by page: a ``paging.next``
    naming another host is refused (422, nothing stored) and never receives the token."""
    from web import create_app

    graph_url, other_url = graph
    GraphRecorder.next_url = f"{other_url}/thief?after=abc"
    make.shop("demo.myshopify.com", meta_phone_number_id=None)
    app = create_app({"APP_ENV": "test", "TESTING": True, "META_GRAPH_URL": graph_url})
    body = {"waba_id": "5550001", "phone_number_id": "1234567890", "access_token": "secret-meta-token"}
    response = app.test_client().put("/api/whatsapp", json=body, headers=bearer())
    assert not [path for _, path, _ in GraphRecorder.seen if "/thief" in path]
    assert all(auth is None for host, _, auth in GraphRecorder.seen if not graph_url.endswith(host))
    assert response.status_code == 422, response.json
    assert response.json["errors"][0]["field"] == "waba_id"


def test_a_dispatch_lane_never_shows_its_token(make, service_urls):
    """The token a dispatch lane carries is not in its repr (what logs and tracebacks print)."""
    from jobs.dispatch import _load

    shop = whatsapp_shop(make)
    campaign = make.campaign(shop)
    with Session(make.engine) as session:
        lane = _load(session, shop.id, campaign.id)
    assert lane is not None and lane.token == TOKEN
    assert TOKEN not in repr(lane) and TOKEN not in str(lane)
