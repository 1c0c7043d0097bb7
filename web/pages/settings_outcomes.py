"""The Settings page's sections about outcomes: how to make a trackable template, the
attribution window, the rate card, and the credits: balance, packs to buy and the ledger."""

from __future__ import annotations

from flask import current_app, request

from core.models import Shop
from core.outcomes.ledger import ledger, reserved_credits
from core.outcomes.pricing import meta_cards
from core.outcomes.purchases import waiting_purchases
from core.outcomes.rate_card import CATEGORIES, priced_countries
from core.outcomes.settings import MAX_WINDOW_DAYS
from core.rules.credit_packs import PACKS
from core.rules.wording import locale_of
from web.database import db
from web.pages.settings_page import settings_section

MOVEMENT_LABELS = {
    "grant": "Added",
    "purchase": "Bought through Shopify",
    "reserve": "Reserved for sending",
    "return": "Returned",
    "charge": "Taken back",
    "shortfall": "Shortfall recorded",
}


@settings_section("settings/_tracking.html", order=20)
def tracking_section(_shop: Shop) -> dict:
    """The URL to paste as a template's URL button (SHOPIFY_APP_URL, or this server)."""
    base = current_app.config["SETTINGS"].shopify_app_url or request.host_url.rstrip("/")
    return {
        "button_url": base + "/r/{{1}}",
        "configured": bool(current_app.config["SETTINGS"].shopify_app_url),
    }


@settings_section("settings/_attribution.html", order=30)
def attribution_section(shop: Shop) -> dict:
    return {"window_days": shop.attribution_window_days, "max_days": MAX_WINDOW_DAYS}


@settings_section("settings/_rates.html", order=40)
def rates_section(shop: Shop) -> dict:
    """Meta's cards for the account's currency (the newest one sampled), or why there is none,
    and the merchant's override as the form's rows: one per market, "*" apart."""
    meta = meta_cards(db(), shop)
    card = meta.cards[-1] if meta.cards else None
    sample = [(c, card.rates[c]) for c in ("ES", "US", "GB", "DE", "AT") if card and c in card.rates]
    override = shop.rate_card or {}
    markets = {code: row for code, row in override.get("rates", {}).items() if code != "*"}
    return {
        "card": card,
        "cards": meta.cards,
        "problem": meta.problem,
        "account_currency": meta.waba_currency,
        "has_override": bool(shop.rate_card),
        "currency": override.get("currency") or meta.waba_currency or shop.currency,
        "markets": sorted(markets.items()),
        "other": override.get("rates", {}).get("*", {}),
        "categories": CATEGORIES,
        "countries": countries(shop.locale, kept=markets),
        "sample": sample,
    }


def countries(locale: str | None, kept=()) -> list[tuple[str, str]]:
    """The countries a rate can be set for, named in the shop's language and sorted by name:
    those the app prices messages as (by calling code), and any the merchant's rates already
    name, so saving the form never drops one."""
    names = locale_of(locale).territories
    codes = priced_countries() | set(kept)
    return sorted(((code, names.get(code, code)) for code in codes), key=lambda pair: pair[1])


@settings_section("settings/_credits.html", order=50)
def credits_section(shop: Shop) -> dict:
    """The balance, what campaigns still sending hold, the packs on sale ("Buy credits" goes
    through Shopify: static/credits.js) and the ledger, each movement with its campaign or
    purchase."""
    session = db()
    return {
        "balance": shop.credits,
        "reserved": reserved_credits(session, shop.id),
        "packs": PACKS,
        "movements": ledger(session, shop.id),
        # Purchases Shopify has not settled for us yet: the page asks Shopify again on load, for
        # a merchant who approved but neither came back nor got the webhook through.
        "waiting": bool(waiting_purchases(session, shop.id)),
        "labels": MOVEMENT_LABELS,
    }
