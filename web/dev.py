"""`make run` only: mint session tokens for a shop, so the app opens in a plain browser.

Outside the Shopify admin there is no App Bridge to sign session tokens. With `make run`'s
explicit opt-in (DEV_SESSION_TOKENS=1 in development, see core/settings.py), and only for a
direct loopback request, the app signs them itself with the same secret, and every request still
goes through the same verification as in production. Anything else gets 404.

Loopback is not proof of a local user: a tunnel (``shopify app dev``, cloudflared, ngrok) or a
reverse proxy delivers internet requests from 127.0.0.1. They announce themselves with
forwarding headers, so a request carrying any of them is refused.
"""

from __future__ import annotations

import base64
import ipaddress
import time
import uuid
from urllib.parse import urlencode, urlsplit

import jwt
from flask import Blueprint, abort, jsonify, redirect, request
from shopify.utils.shop_url import sanitize_shop_domain

from core.settings import Settings, get_settings

blueprint = Blueprint("dev", __name__)

TOKEN_LIFETIME_S = 60  # as App Bridge's


def session_token_claims(
    settings: Settings, shop: str, *, exp_in: int = TOKEN_LIFETIME_S, nbf_in: int = 0, user_id: str = "1"
) -> dict:
    """The claims App Bridge puts in a session token for ``shop``."""
    now = int(time.time())
    return {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": settings.shopify_api_key,
        "sub": user_id,
        "exp": now + exp_in,
        "nbf": now + nbf_in,
        "iat": now,
        "jti": str(uuid.uuid4()),
        "sid": f"session-{user_id}",
    }


def mint_session_token(settings: Settings, shop: str, *, lifetime_s: int = TOKEN_LIFETIME_S) -> str:
    claims = session_token_claims(settings, shop, exp_in=lifetime_s)
    return jwt.encode(claims, settings.shopify_api_secret, algorithm="HS256")


# Headers that proxies, tunnels and CDNs add; any X-Forwarded-* counts too.
FORWARDING_HEADERS = frozenset(
    {
        "forwarded",
        "via",
        "x-real-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "x-original-forwarded-for",
        "true-client-ip",
        "cf-connecting-ip",
        "cf-ray",
        "fastly-client-ip",
        "x-appengine-user-ip",
        "x-azure-clientip",
    }
)


def is_forwarded(headers) -> bool:
    """Whether the request names a hop between the client and us (a proxy or a tunnel)."""
    names = [name.lower() for name, _value in headers.items()]
    return any(name in FORWARDING_HEADERS or name.startswith("x-forwarded-") for name in names)


@blueprint.before_request
def only_local_development():
    settings: Settings = get_settings()
    if (
        not settings.may_mint_dev_tokens
        or not ipaddress.ip_address(request.remote_addr or "0.0.0.0").is_loopback
        or is_forwarded(request.headers)
    ):
        abort(404)


def _shop_arg() -> str:
    shop = sanitize_shop_domain(request.args.get("shop", ""))
    if not shop:
        abort(400, description="shop must be a myshopify domain")
    return shop


def _next_page() -> tuple[str, str]:
    """The app page to open (``next``: a path of this app with its query; the home by
    default), never another site."""
    target = urlsplit(request.args.get("next") or "/")
    if target.scheme or target.netloc or not target.path.startswith("/") or target.path.startswith("//"):
        abort(400, description="next must be a path of this app")
    return target.path, target.query


@blueprint.get("/login")
def login():
    """Open the app home (or the ``next`` page, as Shopify's return from a charge does) for
    ``shop`` as the admin would, with a fresh session token."""
    shop = _shop_arg()
    path, extra = _next_page()
    settings = get_settings()
    host = (
        base64.urlsafe_b64encode(f"admin.shopify.com/store/{shop.split('.')[0]}".encode())
        .decode()
        .rstrip("=")
    )
    query = urlencode(
        {"embedded": "1", "shop": shop, "host": host, "id_token": mint_session_token(settings, shop)}
    )
    return redirect(f"{path}?{extra}&{query}" if extra else f"{path}?{query}")


@blueprint.get("/session-token")
def session_token():
    """What App Bridge's ``shopify.idToken()`` answers inside the admin."""
    return jsonify(token=mint_session_token(get_settings(), _shop_arg()))
