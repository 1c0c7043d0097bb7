"""``GET``/``PUT /api/settings/consent``: the shop's consent setting (the Settings page's
consent section uses it). ``{"sms_consent_counts": bool}``: whether Shopify's SMS marketing
consent counts as consent to WhatsApp marketing; off by default, because SMS consent is not
WhatsApp consent (core/campaigns/audience.py applies it)."""

from __future__ import annotations

from flask import jsonify, request
from werkzeug.exceptions import BadRequest

from web.api import blueprint
from web.database import db
from web.tenancy import current_shop


def _settings_json(shop) -> dict:
    return {"sms_consent_counts": shop.sms_consent_counts}


@blueprint.get("/settings/consent")
def consent_settings():
    return jsonify(_settings_json(current_shop()))


@blueprint.put("/settings/consent")
def change_consent_settings():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("sms_consent_counts"), bool):
        raise BadRequest('The body must be a JSON object like {"sms_consent_counts": false}.')
    shop = current_shop()
    shop.sms_consent_counts = body["sms_consent_counts"]
    db().commit()
    return jsonify(_settings_json(shop))
