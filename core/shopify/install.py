"""Shopify-managed install: the app home's session token becomes an expiring offline token.

Shopify installs the app itself (scopes from shopify.app.toml) and opens the app home with a
session token; the first document request of a shop we do not know, or whose offline token is
missing or expires within 5 minutes, exchanges that token. The shop row and its four token
values are written by one statement, so a shop never exists half-installed, and a reinstall
after an uninstall is recognised (its customers must be imported again).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from core.db import session_scope
from core.models import Shop
from core.settings import Settings
from core.shopify.oauth import OfflineToken, exchange_session_token
from core.shopify.tokens import EXCHANGE_MARGIN, has_usable_token, renewal_lock, token_columns


@dataclass(frozen=True)
class Installation:
    shop_id: int
    exchanged: bool  # a token exchange happened (False: another request had just done it)
    needs_import: bool  # first install, reinstall, or never imported: queue the customer sync


def install_or_renew(settings: Settings, domain: str, session_token: str) -> Installation:
    """Exchange ``session_token`` (already verified, naming ``domain``) unless another request
    did it while we waited for the shop's renewal lock. Raises the core.shopify.oauth errors
    and redis's LockError."""
    with renewal_lock(domain):
        with session_scope() as session:
            shop = session.scalar(select(Shop).where(Shop.domain == domain))
            if shop is not None and shop.uninstalled_at is None and has_usable_token(shop, EXCHANGE_MARGIN):
                return Installation(shop.id, exchanged=False, needs_import=shop.customers_synced_at is None)
        token = exchange_session_token(settings, domain, session_token)
        with session_scope() as session:
            return save_installation(session, domain, token)


def save_installation(session: Session, domain: str, token: OfflineToken) -> Installation:
    columns = token_columns(token)
    statement = insert(Shop.__table__).values(domain=domain, **columns)
    statement = statement.on_conflict_do_update(
        index_elements=["domain"],
        set_={
            **columns,
            "installed_at": case((Shop.uninstalled_at.is_not(None), func.now()), else_=Shop.installed_at),
            "uninstalled_at": None,
        },
    ).returning(
        Shop.id,
        # now() is the transaction's start: equal only for a row this statement (re)installed.
        (Shop.installed_at == func.now()).label("fresh"),
        Shop.customers_synced_at,
    )
    row = session.execute(statement).one()
    return Installation(
        row.id, exchanged=True, needs_import=bool(row.fresh) or row.customers_synced_at is None
    )
