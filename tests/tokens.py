"""Session tokens as App Bridge signs them, with any claim overridable for the bad cases."""

from __future__ import annotations

import time
import uuid

import jwt

from core.settings import get_settings


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
    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": settings.shopify_api_key,
        "sub": "42",
        "exp": now + exp_in,
        "nbf": now + nbf_in,
        "iat": now - 1,
        "jti": str(uuid.uuid4()),
        "sid": "session-1",
    }
    claims.update(overrides)
    for name in drop:
        claims.pop(name)
    key = settings.shopify_api_secret if secret is None else secret
    return jwt.encode(claims, key if algorithm != "none" else None, algorithm=algorithm)


def bearer(shop: str = "demo.myshopify.com", **kwargs) -> dict[str, str]:
    return {"Authorization": f"Bearer {session_token(shop, **kwargs)}"}
