"""The bounce page that renews an embedded page's session token, and where the admin is.

The pages themselves (the app home is the campaigns list) live in web/pages/."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import urlencode

from flask import Blueprint, current_app, render_template, request

from core.settings import get_settings

blueprint = Blueprint("home", __name__)

BOUNCE_PATH = "/auth/session-token"
# The only addresses the admin's ``host`` parameter may name: whole-string matches, so nothing
# can sit before the host or after the path. Store handles and shop names are lower-case
# letters, digits and hyphens, never starting with a hyphen.
ADMIN_PATH = re.compile(r"admin\.shopify\.com/store/[a-z0-9][a-z0-9-]{0,62}")
LEGACY_ADMIN_PATH = re.compile(r"[a-z0-9][a-z0-9-]{0,62}\.myshopify\.com/admin")


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
    """``host`` is base64 of the admin's address for this shop: ``admin.shopify.com/store/x``
    (the admin) or ``x.myshopify.com/admin`` (the legacy admin). Anything else, however close
    (another host in front, a user part, a port, a query), answers None: the value is the
    caller's, so it must never choose where the browser goes."""
    host = request.args.get("host")
    if not host:
        return None
    try:
        admin = base64.urlsafe_b64decode(host + "=" * (-len(host) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    if not (ADMIN_PATH.fullmatch(admin) or LEGACY_ADMIN_PATH.fullmatch(admin)):
        return None
    return f"https://{admin}/apps/{current_app.config['SETTINGS'].shopify_api_key}"
