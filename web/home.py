"""The app home inside the Shopify admin, and the bounce page that renews its session token."""

from __future__ import annotations

import base64
import binascii
from urllib.parse import urlencode

from flask import Blueprint, current_app, redirect, render_template, request
from sqlalchemy import select

from core.models import Campaign
from web.auth import InvalidSessionToken
from web.database import db
from web.tenancy import authenticate

blueprint = Blueprint("home", __name__)

BOUNCE_PATH = "/auth/session-token"


@blueprint.get("/")
def app_home():
    """Shopify loads this in the admin's iframe with ``embedded=1&shop=&host=&id_token=``."""
    if request.args.get("embedded") != "1" and (admin := _admin_app_url()):
        return redirect(admin)  # opened outside the admin: open it inside
    try:
        shop = authenticate(request.args.get("id_token"))
    except InvalidSessionToken:
        return redirect(_bounce_url())
    if shop is None:
        return render_template("not_installed.html"), 403
    campaigns = db().scalars(
        select(Campaign)
        .where(Campaign.shop_id == shop.id)
        .order_by(Campaign.created_at.desc(), Campaign.id.desc())
        .limit(100)
    )
    return render_template("home.html", shop=shop, campaigns=list(campaigns))


@blueprint.get(BOUNCE_PATH)
def bounce():
    """A page that only loads App Bridge: App Bridge reads ``shopify-reload``, fetches a fresh
    session token and reloads that URL with it."""
    return render_template("bounce.html", api_key=current_app.config["SETTINGS"].shopify_api_key)


def _bounce_url() -> str:
    params = [(k, v) for k, v in request.args.items(multi=True) if k != "id_token"]
    reload_target = request.path + ("?" + urlencode(params) if params else "")
    return BOUNCE_PATH + "?" + urlencode([*params, ("shopify-reload", reload_target)])


def _admin_app_url() -> str | None:
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
