"""The Meta access token goes only where it must: never into a repr, never to another host."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy.orm import Session

from core.meta_api import MetaUnavailable, list_templates
from core.settings import load_settings, use_settings
from tests.meta_stand_in import TOKEN, whatsapp_shop


class _Recorder(BaseHTTPRequestHandler):
    """A real HTTP server that notes each request's Authorization header and answers a page
    of templates whose ``paging.next`` is whatever the test set."""

    seen: list = []
    next_url: str | None = None

    def do_GET(self):  # noqa: N802  (http.server's name)
        type(self).seen.append((self.headers.get("Host"), self.path, self.headers.get("Authorization")))
        page = {"data": [{"name": "offer", "language": "en", "status": "APPROVED", "category": "MARKETING"}]}
        if self.next_url and "/thief" not in self.path:
            page["paging"] = {"next": self.next_url}
        body = json.dumps(page).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def graph(monkeypatch):
    """Two real servers on loopback: the Graph API the settings name, and another host."""
    _Recorder.seen = []
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), _Recorder) for _ in range(2)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    graph_url, other_url = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
    monkeypatch.setenv("META_GRAPH_URL", graph_url)
    use_settings(load_settings())
    yield graph_url, other_url
    for server in servers:
        server.shutdown()
        server.server_close()
    use_settings(load_settings())


def test_paging_next_on_another_host_never_gets_the_token(graph):
    """A template list whose paging.next names another host is not followed with the bearer token."""
    graph_url, other_url = graph
    _Recorder.next_url = f"{other_url}/thief?after=abc"
    with pytest.raises(MetaUnavailable):
        list_templates("5550001", "secret-meta-token")
    tokens_elsewhere = [auth for host, _, auth in _Recorder.seen if not graph_url.endswith(host)]
    assert all(auth is None for auth in tokens_elsewhere)
    assert not [path for _, path, _ in _Recorder.seen if "/thief" in path]


def test_paging_next_on_the_graph_host_is_followed(graph):
    """Meta's own next page (same scheme, host and port) is followed with the token."""
    graph_url, _ = graph
    _Recorder.next_url = f"{graph_url}/v25.0/5550001/message_templates/thief?after=abc"
    templates = list_templates("5550001", "secret-meta-token")
    assert len(templates) == 2
    assert [auth for _, _, auth in _Recorder.seen] == ["Bearer secret-meta-token"] * 2


def test_a_dispatch_lane_never_shows_its_token(make, service_urls):
    """The token a dispatch lane carries is not in its repr (what logs and tracebacks print)."""
    from jobs.dispatch import _load

    shop = whatsapp_shop(make)
    campaign = make.campaign(shop)
    with Session(make.engine) as session:
        lane = _load(session, shop.id, campaign.id)
    assert lane is not None and lane.token == TOKEN
    assert TOKEN not in repr(lane) and TOKEN not in str(lane)
