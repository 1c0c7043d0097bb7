"""The embedded pages: server-rendered HTML inside the Shopify admin's iframe.

Every page is a plain HTML document that reads legibly on its own: Shopify's CDN scripts
(App Bridge, Polaris web components) enhance it when they load and nothing depends on them.
Each document request proves its shop with a session token in ``id_token``, as the admin's
first load does; our own script (static/app.js) adds a fresh token to every link and form
inside the app, and a request without a valid one goes to the bounce page for a new token.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from flask import Blueprint, current_app, g, redirect, render_template, request, url_for

from core.settings import get_settings
from web.auth import InvalidSessionToken
from web.formatting import ShopFormat
from web.home import admin_app_url, bounce_url
from web.installation import connect_shop
from web.tenancy import authenticate

blueprint = Blueprint("pages", __name__)

__all__ = ["blueprint"]  # registered by create_app

STATIC = Path(__file__).resolve().parent.parent / "static"
# Query parameters the admin gives the app home that every link inside the app carries on.
CARRIED = ("embedded", "shop", "host", "locale")
# The campaign page polls at most this often (the ceiling); tests may set it lower.
DEFAULT_POLL_MS = 5000


def embedded_page(view: Callable) -> Callable:
    """Verify the document's session token and hand the view its shop, or send the browser
    where it can get a token (the admin, or the bounce page)."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if request.args.get("embedded") != "1" and (admin := admin_app_url()):
            return redirect(admin)  # opened outside the admin: open it inside
        try:
            shop = authenticate(request.args.get("id_token"))
        except InvalidSessionToken:
            return redirect(bounce_url())
        shop = connect_shop(shop, request.args["id_token"])
        if shop is None:
            return render_template("not_installed.html"), 503
        g.fmt = ShopFormat(shop.locale, shop.timezone)
        return view(shop, *args, **kwargs)

    return wrapper


def app_url(endpoint: str, **params) -> str:
    """A link inside the app: the admin's context parameters carried on, never the token."""
    carried = {k: request.args[k] for k in CARRIED if request.args.get(k)}
    carried.update({k: v for k, v in params.items() if v not in (None, "")})
    return url_for(endpoint, **carried)


@functools.cache
def _static_version(name: str) -> str:
    return hashlib.sha256((STATIC / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """A cache-busting URL for one of our static files (the hash of its content)."""
    return url_for("static", filename=name, v=_static_version(name))


def _load_app_bridge() -> bool:
    # Outside the admin, App Bridge sends the browser to the admin; a developer who opened the
    # page directly (development only, top-level document) gets the page without it.
    settings = get_settings()
    return not (settings.may_mint_dev_tokens and request.headers.get("Sec-Fetch-Dest") == "document")


@blueprint.app_context_processor
def _page_context() -> dict:
    settings = get_settings()
    return {
        "fmt": g.get("fmt"),
        "app_url": app_url,
        "static_url": static_url,
        "api_key": settings.shopify_api_key,
        "load_app_bridge": _load_app_bridge(),
        "dev_tokens": settings.may_mint_dev_tokens,
        "poll_ms": current_app.config.get("LIVE_POLL_MS", DEFAULT_POLL_MS),
        "timedelta_days": lambda days: timedelta(days=days),
    }


@blueprint.app_template_filter("todate")
def _todate(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


# Settings sections (settings_*.py) register themselves with settings_page when imported here.
from web.pages import (  # noqa: E402,F401  (registers the pages' routes)
    campaigns,
    composer,
    fixes,
    messages,
    settings_consent,
    settings_data_requests,
    settings_outcomes,
    settings_page,
    trends,
)
