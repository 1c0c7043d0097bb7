"""A real HTTP server standing where the Graph API is, for tests that watch what our app does
while it waits on Meta: each request's host, path and Authorization header are noted, and an
optional hook runs before the answer (a page of templates, with ``paging.next`` when set)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class GraphRecorder(BaseHTTPRequestHandler):
    seen: list = []
    next_url: str | None = None
    templates: list = [{"name": "offer", "language": "en", "status": "APPROVED", "category": "MARKETING"}]
    while_waiting: Callable[[], None] | None = None

    def do_GET(self):  # noqa: N802  (http.server's name)
        cls = type(self)
        cls.seen.append((self.headers.get("Host"), self.path, self.headers.get("Authorization")))
        if cls.while_waiting:
            cls.while_waiting()
        page: dict = {"data": cls.templates}
        if cls.next_url and "/thief" not in self.path:
            page["paging"] = {"next": cls.next_url}
        body = json.dumps(page).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def recording_servers(count: int = 1) -> Iterator[list[str]]:
    """``count`` recorders on loopback ports; answers their base URLs."""
    GraphRecorder.seen, GraphRecorder.next_url, GraphRecorder.while_waiting = [], None, None
    servers = [ThreadingHTTPServer(("127.0.0.1", 0), GraphRecorder) for _ in range(count)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield [f"http://127.0.0.1:{s.server_address[1]}" for s in servers]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
