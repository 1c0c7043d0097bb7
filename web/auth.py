"""Shopify session tokens (ID tokens): the tenant boundary of every request.

App Bridge signs a short-lived JWT (HS256 with the app's client secret) for each request from
the embedded page. Its ``dest`` claim names the shop, and every query is scoped to that shop:
never to a shop named in a query parameter.
"""

from __future__ import annotations

from urllib.parse import urlparse

from shopify import session_token
from shopify.utils.shop_url import sanitize_shop_domain

from core.settings import Settings


class InvalidSessionToken(Exception):
    """The token is missing, forged, expired or names no valid shop."""


def shop_from_session_token(token: str | None, settings: Settings) -> str:
    """Verify ``token`` and return its shop's myshopify domain.

    ShopifyAPI checks the signature (HS256 only, so ``alg: none`` fails), ``aud`` equal to our
    client id, ``exp``/``nbf`` with a 10 s leeway (App Bridge clocks often sign ``nbf`` a little
    in the future), that ``iss`` is a myshopify host and that ``iss`` and ``dest`` agree. It does
    not insist on ``exp`` being present, so we do: a token that never expires is refused.
    """
    if not token:
        raise InvalidSessionToken("missing session token")
    claims = _verified_claims(token, settings)
    if "exp" not in claims:
        raise InvalidSessionToken("session token has no expiry")
    shop = sanitize_shop_domain(urlparse(str(claims["dest"])).hostname or "")
    if not shop:
        raise InvalidSessionToken("dest is not a myshopify domain")
    return shop


def _verified_claims(token: str, settings: Settings) -> dict:
    """The claims of ``token`` signed with the current client secret or, during a rotation,
    the previous one (App Bridge may still hold a token signed with it)."""
    error: session_token.SessionTokenError | None = None
    for secret in settings.shopify_api_secrets:
        try:
            return session_token.decode_from_header(f"Bearer {token}", settings.shopify_api_key, secret)
        except session_token.SessionTokenError as failure:
            error = error or failure
    raise InvalidSessionToken(str(error)) from None


def bearer_token(authorization_header: str | None) -> str | None:
    if not authorization_header or not authorization_header.startswith("Bearer "):
        return None
    return authorization_header[len("Bearer ") :].strip() or None
