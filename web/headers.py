"""Headers every document response carries inside the Shopify admin."""

from __future__ import annotations

from flask import Flask, Response, g, request
from shopify.utils.shop_url import sanitize_shop_domain

ADMIN_ORIGIN = "https://admin.shopify.com"


def frame_ancestors(shop: str | None) -> str:
    """Only the shop's own admin may frame our pages; with no verified shop, only Shopify's."""
    origins = ([f"https://{shop}"] if shop else []) + [ADMIN_ORIGIN]
    return "frame-ancestors " + " ".join(origins) + ";"


def _document_shop() -> str | None:
    # The verified shop (session token) when there is one; otherwise the shop parameter, but
    # only once it is a valid myshopify domain, so no one can inject an origin into the header.
    return getattr(g, "shop_domain", None) or sanitize_shop_domain(request.args.get("shop", ""))


def _add_document_headers(response: Response) -> Response:
    if response.mimetype == "text/html":
        response.headers["Content-Security-Policy"] = frame_ancestors(_document_shop())
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_document_headers)
