"""Offline access tokens from Shopify: token exchange of a session token, and refresh.

Public apps must use expiring offline tokens (an hour, with a 90-day refresh token that
rotates on every use), so both calls ask for and answer the four values that must be stored
together: access token, its expiry, refresh token, its expiry. Neither token, the client
secret nor the session token ever reaches a log line or an exception message here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import requests

from core.settings import Settings

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN = "urn:shopify:params:oauth:token-type:offline-access-token"
# (connect, read) seconds: a page load or a job waits at most this for Shopify's answer.
TIMEOUT = (5, 15)


class TokenRequestRefused(Exception):
    """Shopify answered the token request with an OAuth error (``error`` is its code, e.g.
    ``invalid_subject_token`` for a stale session token, ``invalid_grant`` for a dead refresh
    token)."""

    def __init__(self, error: str, status: int):
        super().__init__(f"Shopify refused the token request: {error} (HTTP {status})")
        self.error, self.status = error, status


class ShopifyUnavailable(Exception):
    """Shopify could not be reached, timed out, or kept answering 429/5xx."""


@dataclass(frozen=True)
class OfflineToken:
    access_token: str = field(repr=False)
    scope: str
    expires_at: datetime | None  # None: a legacy non-expiring token
    refresh_token: str | None = field(default=None, repr=False)
    refresh_token_expires_at: datetime | None = None


def admin_base_url(settings: Settings, shop: str) -> str:
    """Where the shop's Admin API is: the shop itself, or the stand-in in development."""
    return (settings.shopify_admin_url or f"https://{shop}").rstrip("/")


def exchange_session_token(
    settings: Settings, shop: str, session_token: str, *, http: requests.Session | None = None
) -> OfflineToken:
    """Swap a verified session token for an expiring offline access token of ``shop``."""
    return _token_request(
        settings,
        shop,
        {
            "grant_type": TOKEN_EXCHANGE,
            "subject_token": session_token,
            "subject_token_type": ID_TOKEN,
            "requested_token_type": OFFLINE_TOKEN,
            "expiring": "1",
        },
        http,
    )


def refresh_offline_token(
    settings: Settings, shop: str, refresh_token: str, *, http: requests.Session | None = None
) -> OfflineToken:
    """A new access token and a new refresh token; the old refresh token is spent."""
    params = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    return _token_request(settings, shop, params, http)


def _token_request(
    settings: Settings, shop: str, params: dict, http: requests.Session | None
) -> OfflineToken:
    body = {"client_id": settings.shopify_api_key, "client_secret": settings.shopify_api_secret, **params}
    url = admin_base_url(settings, shop) + "/admin/oauth/access_token"
    try:
        response = (http or requests).post(url, json=body, timeout=TIMEOUT)
    except requests.RequestException as error:
        raise ShopifyUnavailable(f"token request to {shop} failed: {type(error).__name__}") from None
    if response.status_code == 429 or response.status_code >= 500:
        raise ShopifyUnavailable(f"token request to {shop} answered HTTP {response.status_code}")
    answer = _json(response)
    if response.status_code != 200 or not answer.get("access_token"):
        raise TokenRequestRefused(str(answer.get("error") or "no_access_token"), response.status_code)
    return _offline_token(answer, datetime.now(UTC))


def _json(response: requests.Response) -> dict:
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _offline_token(answer: dict, now: datetime) -> OfflineToken:
    def after(seconds) -> datetime | None:
        return now + timedelta(seconds=int(seconds)) if seconds is not None else None

    return OfflineToken(
        access_token=str(answer["access_token"]),
        scope=str(answer.get("scope") or ""),
        expires_at=after(answer.get("expires_in")),
        refresh_token=answer.get("refresh_token"),
        refresh_token_expires_at=after(answer.get("refresh_token_expires_in")),
    )
