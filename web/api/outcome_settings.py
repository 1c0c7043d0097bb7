"""``GET``/``PUT /api/settings/outcomes``: the attribution window and the rate card override;
the credits are web/api/credits.py."""

from __future__ import annotations

from flask import jsonify, request

from core.outcomes.rate_card import shipped_card
from core.outcomes.settings import SettingsProblem, update_outcome_settings
from web.api import blueprint
from web.database import db
from web.tenancy import current_shop


def _settings_json(shop) -> dict:
    card = shipped_card()
    return {
        "attribution_window_days": shop.attribution_window_days,
        "rate_card": shop.rate_card,
        "shipped_rate_card": {
            "currency": card.currency,
            "effective": card.effective,
            "sources": list(card.sources),
        },
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
