"""A shop's offline tokens at rest: encrypted (core/crypto.py), written together, and renewed
by one process at a time.

Refresh tokens rotate: the refresh that Shopify answers spends the old one. Two workers that
refreshed at once would each get a pair, and whichever stored last could hold a refresh token
Shopify no longer honours. So renewing (refresh, or the app home's token exchange) happens
under a per-shop Redis lock, and whoever gets the lock first re-reads the shop: if another
process renewed the token meanwhile, it uses that one instead of renewing again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis.lock import Lock
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.crypto import decrypt_token, encrypt_token
from core.models import Shop
from core.redis import get_redis
from core.shopify.oauth import OfflineToken

# The app home renews a token that expires within 5 minutes (as Shopify's own templates do),
# so the page's later API calls do not have to; the Admin API client refreshes within 60 s.
EXCHANGE_MARGIN = timedelta(minutes=5)
REFRESH_MARGIN = timedelta(seconds=60)
# The lock outlives one token request (15 s read timeout) with room to spare.
LOCK_TIMEOUT_S = 30
LOCK_WAIT_S = 35


@dataclass(frozen=True)
class StoredToken:
    access_token: str | None = field(repr=False)
    expires_at: datetime | None
    refresh_token: str | None = field(repr=False)
    refresh_token_expires_at: datetime | None

    def usable(self, margin: timedelta, now: datetime | None = None) -> bool:
        """There is an access token and it is good for at least ``margin`` more."""
        if not self.access_token:
            return False
        return self.expires_at is None or self.expires_at - (now or datetime.now(UTC)) > margin

    def refreshable(self, now: datetime | None = None) -> bool:
        if not self.refresh_token:
            return False
        expiry = self.refresh_token_expires_at
        return expiry is None or expiry > (now or datetime.now(UTC))


def stored_token(shop: Shop) -> StoredToken:
    return StoredToken(
        access_token=decrypt_token(shop.access_token_ciphertext),
        expires_at=shop.access_token_expires_at,
        refresh_token=decrypt_token(shop.refresh_token_ciphertext),
        refresh_token_expires_at=shop.refresh_token_expires_at,
    )


def token_columns(token: OfflineToken) -> dict:
    """The shop's token columns for ``token``: always all four together, so an access token is
    never stored beside the refresh token of another pair."""
    return {
        "access_token_ciphertext": encrypt_token(token.access_token),
        "access_token_expires_at": token.expires_at,
        "refresh_token_ciphertext": encrypt_token(token.refresh_token),
        "refresh_token_expires_at": token.refresh_token_expires_at,
        "scopes": token.scope,
    }


def store_token(session: Session, shop_id: int, token: OfflineToken) -> None:
    session.execute(update(Shop).where(Shop.id == shop_id).values(**token_columns(token)))


def forget_tokens(session: Session, shop_id: int) -> None:
    session.execute(
        update(Shop)
        .where(Shop.id == shop_id)
        .values(
            access_token_ciphertext=None,
            access_token_expires_at=None,
            refresh_token_ciphertext=None,
            refresh_token_expires_at=None,
        )
    )


def renewal_lock(domain: str) -> Lock:
    """The per-shop lock held while a token is renewed (keyed by domain: a first install has no
    shop id yet)."""
    return get_redis().lock(
        f"shopify:token-renewal:{domain}", timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_WAIT_S
    )


def has_usable_token(shop: Shop, margin: timedelta, now: datetime | None = None) -> bool:
    """Like StoredToken.usable, without decrypting (every page load asks)."""
    if shop.access_token_ciphertext is None:
        return False
    expires_at = shop.access_token_expires_at
    return expires_at is None or expires_at - (now or datetime.now(UTC)) > margin
