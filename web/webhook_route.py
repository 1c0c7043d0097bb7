"""The thin route of ``POST /webhooks/meta``: answered in front of Flask, as a WSGI layer.

Meta's webhooks are by far the busiest request, and what they need before the 200 is small:
the declared size, the raw bytes, the signature, the stored body (committed: web/webhook_bodies.py
and core/inbox_writer.py, unchanged). Flask's request machinery (a request and app context, URL
matching, before/after-request hooks, header parsing) cost more CPU than all of that together
(bench/bench_webhooks.py prints the profile), so this layer answers those POSTs itself and hands
every other request, and any POST it cannot read plainly (no declared length: chunked), to the
app. web/meta_webhooks.py keeps the same route for those, with the same checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask

from core.meta_webhooks import signature
from core.meta_webhooks.drain import SOURCE
from jobs.webhooks import request_drain
from web.webhook_bodies import plain, store_and_acknowledge

PATH = "/webhooks/meta"
# Stored with the body, as web/meta_webhooks.py stores them: (header name, WSGI environ key).
_STORED = (
    ("Content-Type", "CONTENT_TYPE"),
    ("User-Agent", "HTTP_USER_AGENT"),
    (signature.HEADER, "HTTP_" + signature.HEADER.upper().replace("-", "_")),
)


class ThinMetaWebhooks:
    """WSGI middleware in front of the Flask app."""

    def __init__(self, flask_app: Flask, wsgi_app: Callable, max_body_bytes: int) -> None:
        self.flask_app = flask_app  # its app context carries the settings (core/settings.py)
        self.app = wsgi_app
        self.max_body_bytes = max_body_bytes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "POST":
            length = environ.get("CONTENT_LENGTH") or ""
            if length.isdigit():
                with self.flask_app.app_context():  # cheap beside a request context
                    response = self.receive(environ, int(length))
                return response(environ, start_response)
        return self.app(environ, start_response)

    def receive(self, environ: dict, length: int):
        """The answer to one POST: 413, 400, 401, 503 or, once the body is committed, 200."""
        if length > self.max_body_bytes:
            return plain("payload too large", 413)
        body = environ["wsgi.input"].read(length)
        if len(body) != length:
            return plain("the body is shorter than its Content-Length", 400)
        secret = self.flask_app.config["SETTINGS"].meta_app_secret
        if not signature.is_valid(secret, body, environ.get(_STORED[2][1])):
            return plain("bad signature", 401)
        headers = {name: environ[key] for name, key in _STORED if key in environ}
        return store_and_acknowledge(SOURCE, body, headers, request_drain)
