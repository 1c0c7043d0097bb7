"""Resolve the verified shop of a request; every query below is scoped to it."""

from __future__ import annotations

from flask import g
from sqlalchemy import select

from core.models import Shop
from core.settings import get_settings
from web.auth import shop_from_session_token
from web.database import db


def current_shop() -> Shop:
    return g.shop


def authenticate(token: str | None) -> Shop | None:
    """Verify the session token (raising InvalidSessionToken) and load its shop, or None when
    the shop has not installed the app."""
    domain = shop_from_session_token(token, get_settings())
    g.shop_domain = domain
    shop = db().scalar(select(Shop).where(Shop.domain == domain, Shop.uninstalled_at.is_(None)))
    if shop is not None:
        g.shop = shop
    return shop
