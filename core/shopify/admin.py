"""The GraphQL Admin API client used by jobs and the API: one shop, its stored offline token.

- The access token is refreshed when it expires within 60 s, under the shop's renewal lock
  (core/shopify/tokens.py), and once more if Shopify answers 401 to a token we believed good.
- Throttling is Shopify's leaky bucket: a throttled request is answered HTTP 200 with
  ``errors[].extensions.code == "THROTTLED"`` and the bucket's state in
  ``extensions.cost.throttleStatus``; we wait exactly what the bucket needs to hold the
  request's cost, and before each request we wait if the last answer said the bucket is short.
- 429 honours ``Retry-After``; 5xx and connection failures back off exponentially. Retrying a
  request after a failure that may have reached Shopify is safe only for an idempotent one
  (a query, or setting a field to a value); callers say which.
- ``userErrors`` of a mutation are raised as UserErrors, with Shopify's fields and messages.
No access token is ever logged or put in an exception message.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests
from redis.exceptions import LockError

from core.db import session_scope
from core.models import Shop
from core.settings import Settings, get_settings
from core.shopify.oauth import (
    TIMEOUT,
    ShopifyUnavailable,
    TokenRequestRefused,
    admin_base_url,
    refresh_offline_token,
)
from core.shopify.tokens import REFRESH_MARGIN, StoredToken, renewal_lock, store_token, stored_token

log = logging.getLogger(__name__)

__all__ = ["AdminClient", "GraphQLErrors", "ReauthorizationRequired", "ShopifyUnavailable", "UserErrors"]


class ShopifyError(Exception):
    """Shopify answered, but not with the data asked for."""


class ReauthorizationRequired(ShopifyError):
    """No usable token and none can be had without the merchant: they must open the app (its
    page load exchanges a fresh session token), or the shop has uninstalled it."""


class GraphQLErrors(ShopifyError):
    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(str(e.get("message")) for e in errors)[:500])
        self.errors = errors


class UserErrors(ShopifyError):
    """A mutation Shopify refused: ``errors`` is its ``userErrors`` ([{field, message}])."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(str(e.get("message")) for e in errors)[:500])
        self.errors = errors


@dataclass
class Throttle:
    maximum: float
    available: float
    restore_rate: float


class AdminClient:
    def __init__(
        self,
        shop_id: int,
        *,
        settings: Settings | None = None,
        max_attempts: int = 6,
        max_wait_s: float = 30.0,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.shop_id = shop_id
        self.settings = settings or get_settings()
        self.max_attempts, self.max_wait_s, self.backoff_s = max_attempts, max_wait_s, backoff_s
        self.sleep = sleep
        self.http = requests.Session()
        self.throttle: Throttle | None = None
        self.last_cost = 0
        self.domain = ""

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(self, *_exc) -> None:
        self.http.close()

    # ---- requests ---------------------------------------------------------------------------

    def query(self, document: str, variables: dict | None = None) -> dict:
        return self.execute(document, variables, idempotent=True)

    def mutate(self, document: str, variables: dict, payload: str, *, idempotent: bool) -> dict:
        """Run a mutation and return its payload object; its userErrors raise UserErrors."""
        result = self.execute(document, variables, idempotent=idempotent).get(payload) or {}
        if result.get("userErrors"):
            raise UserErrors(list(result["userErrors"]))
        return result

    def execute(self, document: str, variables: dict | None = None, *, idempotent: bool) -> dict:
        """Return ``data``; raise GraphQLErrors, ReauthorizationRequired or ShopifyUnavailable."""
        rejected: str | None = None  # an access token Shopify answered 401 to
        for attempt in range(1, self.max_attempts + 1):
            token = self._access_token(rejected)
            self._pace()
            try:
                response = self.http.post(
                    self._url(),
                    json={"query": document, "variables": variables or {}},
                    headers={"X-Shopify-Access-Token": token},
                    timeout=TIMEOUT,
                )
            except requests.RequestException as error:
                if not idempotent:
                    raise ShopifyUnavailable(f"{self.domain}: {type(error).__name__}; not retried") from None
                self._wait(attempt, self._backoff(attempt), type(error).__name__)
                continue
            if response.status_code == 401:
                if rejected == token:
                    raise ReauthorizationRequired(f"{self.domain} refused a freshly renewed token")
                rejected = token
                continue
            if response.status_code == 429 or response.status_code >= 500:
                wait = _retry_after(response) or self._backoff(attempt)
                self._wait(attempt, wait, f"HTTP {response.status_code}")
                continue
            if response.status_code != 200:
                raise ShopifyError(f"{self.domain} answered HTTP {response.status_code}")
            answer = self._read(response)
            if _throttled(answer):
                self._wait(attempt, self._throttle_wait(), "throttled")
                continue
            if answer.get("errors"):
                raise GraphQLErrors(answer["errors"])
            return answer.get("data") or {}
        raise ShopifyUnavailable(f"{self.domain}: no answer after {self.max_attempts} attempts")

    def _url(self) -> str:
        version = self.settings.shopify_api_version
        return f"{admin_base_url(self.settings, self.domain)}/admin/api/{version}/graphql.json"

    def _read(self, response: requests.Response) -> dict:
        try:
            answer = response.json()
        except ValueError:
            raise ShopifyError(f"{self.domain} answered something that is not JSON") from None
        cost = (answer.get("extensions") or {}).get("cost") or {}
        if status := cost.get("throttleStatus"):
            self.throttle = Throttle(
                float(status["maximumAvailable"]),
                float(status["currentlyAvailable"]),
                float(status["restoreRate"]),
            )
            self.last_cost = int(cost.get("requestedQueryCost") or 0)
        return answer

    # ---- waiting ----------------------------------------------------------------------------

    def _wait(self, attempt: int, seconds: float, reason: str) -> None:
        if attempt >= self.max_attempts:
            raise ShopifyUnavailable(f"{self.domain}: {reason} after {attempt} attempts")
        seconds = min(max(seconds, 0.0), self.max_wait_s)
        log.info("shopify %s: %s, retrying in %.2f s (attempt %d)", self.domain, reason, seconds, attempt)
        self.sleep(seconds)

    def _backoff(self, attempt: int) -> float:
        return self.backoff_s * 2 ** (attempt - 1) * (1 + random.random() / 4)

    def _throttle_wait(self) -> float:
        """Time for the bucket to hold the request's cost again."""
        if self.throttle is None or self.throttle.restore_rate <= 0:
            return self.backoff_s
        deficit = max(self.last_cost - self.throttle.available, 1.0)
        return deficit / self.throttle.restore_rate

    def _pace(self) -> None:
        """Before a request: if the last answer left the bucket short of what that request
        cost, wait until it has refilled that much (no point being refused)."""
        if self.throttle is not None and self.last_cost > self.throttle.available:
            wait = (self.last_cost - self.throttle.available) / max(self.throttle.restore_rate, 1.0)
            self.sleep(min(wait, self.max_wait_s))
            self.throttle = None

    # ---- the access token -------------------------------------------------------------------

    def _load(self) -> StoredToken:
        with session_scope() as session:
            shop = session.get(Shop, self.shop_id)
            if shop is None or shop.uninstalled_at is not None:
                raise ReauthorizationRequired(f"shop {self.shop_id} has not installed the app")
            self.domain = shop.domain
            return stored_token(shop)

    def _access_token(self, rejected: str | None) -> str:
        token = self._load()
        if token.usable(REFRESH_MARGIN) and token.access_token != rejected:
            return token.access_token
        try:
            with renewal_lock(self.domain):
                return self._refresh(rejected)
        except LockError:
            raise ShopifyUnavailable(f"{self.domain}: another process holds the token renewal") from None

    def _refresh(self, rejected: str | None) -> str:
        token = self._load()  # another process may have renewed it while we waited for the lock
        if token.usable(REFRESH_MARGIN) and token.access_token != rejected:
            return token.access_token
        if not token.refreshable():
            raise ReauthorizationRequired(
                f"{self.domain} has no usable token; the merchant must open the app"
            )
        try:
            fresh = refresh_offline_token(self.settings, self.domain, token.refresh_token, http=self.http)
        except TokenRequestRefused as refused:
            raise ReauthorizationRequired(f"{self.domain}: refresh refused ({refused.error})") from None
        with session_scope() as session:
            store_token(session, self.shop_id, fresh)
        log.info("shopify %s: access token refreshed", self.domain)
        return fresh.access_token


def _throttled(answer: dict) -> bool:
    return any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in answer.get("errors") or [])


def _retry_after(response: requests.Response) -> float | None:
    try:
        return float(response.headers["Retry-After"])
    except (KeyError, ValueError):
        return None
