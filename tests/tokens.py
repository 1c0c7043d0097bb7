"""Session tokens as App Bridge signs them, with any claim overridable for the bad cases."""

from __future__ import annotations

import jwt

from core.settings import get_settings
from web.dev import session_token_claims


def session_token(
    shop: str = "demo.myshopify.com",
    *,
    exp_in: int = 60,
    nbf_in: int = -1,
    secret: str | None = None,
    algorithm: str = "HS256",
    drop: tuple[str, ...] = (),
    **overrides,
) -> str:
    settings = get_settings()
    claims = session_token_claims(settings, shop, exp_in=exp_in, nbf_in=nbf_in, user_id="42")
    claims.update(overrides)
    for name in drop:
        claims.pop(name)
    key = settings.shopify_api_secret if secret is None else secret
    return jwt.encode(claims, key if algorithm != "none" else None, algorithm=algorithm)


def bearer(shop: str = "demo.myshopify.com", **kwargs) -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token(shop, **kwargs)}"}
