"""``POST /webhooks/meta``, answered in front of Flask, as a WSGI layer: the one place its checks
are written.

Meta's webhooks are by far the busiest request, and what they need before the 200 is small:
the size, the raw bytes, the signature, the stored body (committed: web/webhooks/bodies.py and
core/inbox/writer.py). Flask's request machinery (a request and app context, URL matching,
before/after-request hooks, header parsing) cost more CPU than all of that together
(bench/bench_webhooks.py prints the profile), so this layer answers those POSTs itself and hands
every other request to the app (web/webhooks/meta.py keeps the GET handshake).

Meta documents bodies "up to 3 MB" and nothing about how they are framed, so a chunked body (no
Content-Length) is read here too, when the server has de-chunked it and marks the end of the
stream (``wsgi.input_terminated``: gunicorn always does); only a server that cannot say where
such a body ends gets 411.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import Flask, Response

from core.meta_webhooks import signature
from core.meta_webhooks.drain import SOURCE
from jobs.webhooks import DrainRequests
from web.webhooks.bodies import plain, store_and_acknowledge

PATH = "/webhooks/meta"
# Meta's bodies are "up to 3 MB"; read as MiB so that no body Meta may send is refused.
MAX_BODY_BYTES = 3 * 1024 * 1024
# Stored with the body: (header name, WSGI environ key).
_STORED = (
    ("Content-Type", "CONTENT_TYPE"),
    ("User-Agent", "HTTP_USER_AGENT"),
    (signature.HEADER, "HTTP_" + signature.HEADER.upper().replace("-", "_")),
)
_SIGNATURE_KEY = _STORED[2][1]


class ThinMetaWebhooks:
    """WSGI middleware in front of the Flask app."""

    def __init__(self, flask_app: Flask, wsgi_app: Callable) -> None:
        self.flask_app = flask_app  # its app context carries the settings (core/settings.py)
        self.app = wsgi_app
        self.drains = DrainRequests()  # this app's knowledge of the pending drain

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == PATH and environ.get("REQUEST_METHOD") == "POST":
            with self.flask_app.app_context():  # cheap beside a request context
                response = self.receive(environ)
            return response(environ, start_response)
        return self.app(environ, start_response)

    def receive(self, environ: dict) -> Response:
        """The answer to one POST: 413, 411, 400, 401, 503 or, once the body is committed, 200."""
        body = read_body(environ, MAX_BODY_BYTES)
        if isinstance(body, Response):
            return body
        secret = self.flask_app.config["SETTINGS"].meta_app_secret
        if not signature.is_valid(secret, body, environ.get(_SIGNATURE_KEY)):
            return plain("bad signature", 401)
        headers = {name: environ[key] for name, key in _STORED if key in environ}
        return store_and_acknowledge(SOURCE, body, headers, self.drains.request)


def read_body(environ: dict, limit: int) -> bytes | Response:
    """The raw body (signatures are over the exact bytes), or the answer refusing it. A declared
    length over ``limit`` is refused before anything is read."""
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared:
        if not declared.isdigit():
            return plain("bad Content-Length", 400)
        if int(declared) > limit:
            return plain("payload too large", 413)
        body = _read_up_to(environ["wsgi.input"], int(declared))
        if len(body) != int(declared):
            return plain("the body is shorter than its Content-Length", 400)
        return body
    if not environ.get("wsgi.input_terminated"):
        return plain("Content-Length required", 411)
    body = _read_up_to(environ["wsgi.input"], limit + 1)  # chunked, de-chunked by the server
    if len(body) > limit:
        return plain("payload too large", 413)
    return body


def _read_up_to(stream, size: int) -> bytes:
    """Read ``size`` bytes, or all there are: one ``read`` may return less (a raw stream)."""
    parts, got = [], 0
    while got < size:
        part = stream.read(size - got)
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)
