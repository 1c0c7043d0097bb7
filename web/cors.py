"""CORS on ``/api/*`` for Shopify's admin UI extensions.

Admin UI extensions run in a sandbox served from Shopify's extension CDN, so their ``fetch`` to
our API is cross-origin: the browser first sends an ``OPTIONS`` preflight without the
``Authorization`` header, then the real request with the ID token. The preflight is answered
before the session-token guard (web/api/__init__.py); every ``/api`` answer, 401s included,
names the allowed origin and exposes the retry header App Bridge reads. Any other origin gets
no CORS headers at all, so browsers keep it out.
"""

from __future__ import annotations

from flask import Flask, Response, request

# The origin Shopify's admin-extension documentation tells apps to allow (also under
# `shopify app dev`, where only the bundle is served from the developer's machine).
EXTENSION_ORIGIN = "https://extensions.shopifycdn.com"
ALLOWED_ORIGINS = frozenset({EXTENSION_ORIGIN})
ALLOW_HEADERS = "Authorization, Content-Type"
ALLOW_METHODS = "GET, POST, PUT, DELETE, OPTIONS"
EXPOSE_HEADERS = "X-Shopify-Retry-Invalid-Session-Request"
MAX_AGE_S = 7200


def is_preflight() -> bool:
    return request.method == "OPTIONS"


def preflight_response() -> Response:
    """Return the empty 204 a preflight gets; ``add_cors_headers`` fills in what it allows."""
    return Response(status=204)


def _allowed_origin(origin: str | None) -> str | None:
    """Return the origin to name: the request's when it is allowed, the extension CDN's when the
    request names none (no browser is asking, so naming it grants nothing), else None."""
    if origin is None:
        return EXTENSION_ORIGIN
    return origin if origin in ALLOWED_ORIGINS else None


def add_cors_headers(response: Response) -> Response:
    """Name the allowed origin on every ``/api`` answer, and what a preflight may use."""
    if not request.path.startswith("/api/"):
        return response
    response.vary.add("Origin")
    origin = _allowed_origin(request.headers.get("Origin"))
    if origin is None:
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
    if is_preflight():
        response.headers["Access-Control-Allow-Headers"] = ALLOW_HEADERS
        response.headers["Access-Control-Allow-Methods"] = ALLOW_METHODS
        response.headers["Access-Control-Max-Age"] = str(MAX_AGE_S)
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_cors_headers)
