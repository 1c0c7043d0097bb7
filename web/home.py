"""The bounce page that renews an embedded page's session token, and where the admin is.

The pages themselves (the app home is the campaigns list) live in web/pages/."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request

from core.settings import get_settings

blueprint = Blueprint("home", __name__)

BOUNCE_PATH = "/auth/session-token"


@blueprint.get(BOUNCE_PATH)
def bounce():
    """A page that only loads App Bridge: App Bridge reads ``shopify-reload``, fetches a fresh
    session token and reloads that URL with it."""
    return render_template("bounce.html", api_key=get_settings().shopify_api_key)


def bounce_url() -> str:
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "id_token"]
    reload_target = request.path + ("?" + urlencode(params) if params else "")
    return BOUNCE_PATH + "?" + urlencode([*params, ("shopify-reload", reload_target)])


def admin_app_url() -> str | None:
    """``host`` is base64 of the admin's address for this shop (``admin.shopify.com/store/x``)."""
    host = request.args.get("host")
    if not host:
        return None
    try:
        admin = base64.urlsafe_b64decode(host + "=" * (-len(host) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    if not (admin.startswith("admin.shopify.com/store/") or admin.endswith(".myshopify.com/admin")):
        return None
    return f"https://{admin}/apps/{current_app.config['SETTINGS'].shopify_api_key}"
