"""The stand-in's configuration. Defaults suit the demo (``make run``); tests change parts of
it with ``PUT /sim/config`` or a JSON file given to ``python -m sim.shopify --config``."""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

# The app's development placeholders (core/settings.py), so the demo needs no configuration.
DEV_API_KEY = "dev-shopify-api-key"
DEV_API_SECRET = "dev-only-shopify-api-secret-not-for-production"
APP_TOML = Path(__file__).resolve().parents[2] / "shopify.app.toml"


def app_include_fields() -> dict[str, list[str]]:
    """The ``include_fields`` the app's shopify.app.toml subscribes each topic with, as Shopify
    reads them from the deployed configuration."""
    subscriptions = tomllib.loads(APP_TOML.read_text())["webhooks"]["subscriptions"]
    return {
        topic: list(subscription["include_fields"])
        for subscription in subscriptions
        if "include_fields" in subscription
        for topic in subscription.get("topics", [])
    }


@dataclass
class SimConfig:
    seed: int = 1
    customers: int = 25  # generated for each shop that is not in the seed document
    seed_document: str | None = None  # path of a seed document whose shops' customers to serve
    api_key: str = DEV_API_KEY
    api_secret: str = DEV_API_SECRET
    scopes: str = "read_customers,write_customers"
    access_token_ttl_s: int = 3600  # Shopify's expiring offline tokens live an hour
    refresh_token_ttl_s: int = 90 * 24 * 3600
    # The leaky bucket of the GraphQL Admin API, per shop (Standard plan: 100 points a second).
    bucket: int = 2000
    restore_rate: float = 100.0
    max_query_cost: int = 1000  # a single query that would cost more is refused outright
    max_page_size: int = 250
    bulk_delay_s: float = 0.0  # a bulk export stays RUNNING at least this long (tests of polling)
    bulk_error: str | None = None  # a bulk export fails with this BulkOperationErrorCode (TIMEOUT, ...)
    # customerUpdate with a new phone number drops both marketing consents (never subscribed,
    # no date). Off by default: Shopify's schema keeps consent on the phone number
    # (CustomerPhoneNumber.smsMarketingConsent / whatsAppMarketingConsent) and does not say
    # whether a changed number keeps it, so the app must not rely on either; tests turn it on
    # to check that the app stores what Shopify answers and warns the merchant.
    phone_change_resets_consent: bool = False
    # Shops that are development stores (``shop.plan.partnerDevelopment``): Shopify lets them
    # accept test charges only.
    development_stores: list = field(default_factory=list)
    webhook_url: str | None = None  # the app's POST /webhooks/shopify (None: post nothing)
    webhook_api_version: str = "2026-10"
    # Topic -> the only fields its bodies carry (sim/shopify/webhooks.py included), from the app's
    # shopify.app.toml as Shopify takes them; a test may set its own.
    include_fields: dict = field(default_factory=app_include_fields)
    # Forced answers for the next GraphQL requests, in order: {"status": 503} or
    # {"status": 429, "retry_after": 0.2} (retry_after is optional).
    faults: list = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)

    def update(self, changes: dict) -> None:
        """Apply a partial update; unknown keys are refused."""
        known = {f.name for f in fields(self)}
        for key, value in changes.items():
            if key not in known:
                raise KeyError(key)
            setattr(self, key, value)
