"""The app home's side of the install: a document request whose shop has no usable offline
token exchanges its session token for one (core/shopify/install.py), then queues the customer
import when the shop is new, reinstalled or never imported.

When Shopify cannot be reached a shop we already serve still gets its pages (its data is here;
only the write-backs wait), and we do not ask again for a minute; a shop we do not know yet
gets a page that says installing did not finish.
"""

from __future__ import annotations

import contextlib
import logging

from flask import g
from redis.exceptions import LockError, RedisError

from core.models import Shop
from core.redis import get_redis
from core.settings import get_settings
from core.shopify.install import install_or_renew
from core.shopify.oauth import ShopifyUnavailable, TokenRequestRefused
from core.shopify.tokens import EXCHANGE_MARGIN, has_usable_token
from jobs.customer_import import request_customer_sync
from jobs.orders import request_order_import
from web.database import db

log = logging.getLogger(__name__)

RETRY_AFTER_FAILURE_S = 60


def _backoff_key(domain: str) -> str:
    return f"shopify:exchange-failed:{domain}"


def connect_shop(shop: Shop | None, session_token: str) -> Shop | None:
    """The request's shop with a usable offline token when it can be had; None when the shop
    is not installed and installing it failed. ``shop`` is what authenticate() found."""
    if shop is not None and has_usable_token(shop, EXCHANGE_MARGIN):
        return shop
    domain = g.shop_domain
    if shop is not None and _recently_failed(domain):
        return shop
    try:
        installation = install_or_renew(get_settings(), domain, session_token)
    except (ShopifyUnavailable, TokenRequestRefused, LockError, RedisError) as error:
        log.warning("token exchange for %s failed: %s", domain, error)
        _remember_failure(domain)
        return shop
    if installation.needs_import:
        _queue_import(installation.shop_id)
    db().expire_all()
    g.shop = db().get(Shop, installation.shop_id)
    return g.shop


def _recently_failed(domain: str) -> bool:
    try:
        return bool(get_redis().exists(_backoff_key(domain)))
    except RedisError:
        return False


def _remember_failure(domain: str) -> None:
    with contextlib.suppress(RedisError):
        get_redis().set(_backoff_key(domain), b"1", ex=RETRY_AFTER_FAILURE_S)


def _queue_import(shop_id: int) -> None:
    try:
        request_customer_sync(shop_id)
        request_order_import(shop_id)  # the last 60 days, for revenue attribution
    except RedisError as error:
        log.warning("could not queue the imports of shop %s: %s", shop_id, type(error).__name__)
