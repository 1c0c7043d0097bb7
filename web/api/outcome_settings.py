"""``GET``/``PUT /api/settings/outcomes``: the attribution window and the rate card override;
the credits are web/api/credits.py."""

from __future__ import annotations

from flask import jsonify, request

from core.outcomes.pricing import meta_cards
from core.outcomes.settings import SettingsProblem, update_outcome_settings
from web.api import blueprint
from web.database import db
from web.tenancy import current_shop


def _settings_json(shop) -> dict:
    """The settings; ``shipped_rate_card`` is Meta's card in force today in the account's
    currency (null when the app has none for it), ``shipped_rate_cards`` every one of them."""
    meta = meta_cards(db(), shop)
    cards = [
        {"currency": c.currency, "effective": c.effective, "sources": list(c.sources)} for c in meta.cards
    ]
    return {
        "attribution_window_days": shop.attribution_window_days,
        "rate_card": shop.rate_card,
        "shipped_rate_card": cards[-1] if cards else None,
        "shipped_rate_cards": cards,
        "account_currency": meta.waba_currency,
    }


@blueprint.get("/settings/outcomes")
def outcome_settings():
    return jsonify(_settings_json(current_shop()))


@blueprint.put("/settings/outcomes")
def change_outcome_settings():
    shop = current_shop()
    try:
        update_outcome_settings(shop, request.get_json(silent=True))
    except SettingsProblem as problem:
        db().rollback()
        return jsonify(errors=problem.errors), 422
    db().commit()
    return jsonify(_settings_json(shop))
