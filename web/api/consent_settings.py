"""``GET``/``PUT /api/settings/consent``: the shop's consent settings (the Settings page's
consent section uses them). ``{"sms_consent_counts": bool, "marketing_cap_hours": int | null}``:
whether Shopify's SMS marketing consent counts as consent to WhatsApp marketing (off by default,
because SMS consent is not WhatsApp consent), and the frequency cap: at most one marketing
campaign per customer in that many hours (1 to 720; null: none). A PUT may send either field;
core/campaigns/audience.py applies both."""

from __future__ import annotations

from flask import jsonify, request
from werkzeug.exceptions import BadRequest

from web.api import blueprint
from web.database import db
from web.tenancy import current_shop

MAX_CAP_HOURS = 720  # 30 days


def _settings_json(shop) -> dict:
    return {"sms_consent_counts": shop.sms_consent_counts, "marketing_cap_hours": shop.marketing_cap_hours}


@blueprint.get("/settings/consent")
def consent_settings():
    return jsonify(_settings_json(current_shop()))


@blueprint.put("/settings/consent")
def change_consent_settings():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.keys() & {"sms_consent_counts", "marketing_cap_hours"}:
        raise BadRequest('The body must be a JSON object like {"sms_consent_counts": false}.')
    if "sms_consent_counts" in body and not isinstance(body["sms_consent_counts"], bool):
        raise BadRequest("sms_consent_counts must be true or false.")
    cap = body.get("marketing_cap_hours")
    if cap is not None and (
        isinstance(cap, bool) or not isinstance(cap, int) or not 1 <= cap <= MAX_CAP_HOURS
    ):
        raise BadRequest(
            f"marketing_cap_hours must be a whole number of hours from 1 to {MAX_CAP_HOURS}, or null."
        )
    shop = current_shop()
    if "sms_consent_counts" in body:
        shop.sms_consent_counts = body["sms_consent_counts"]
    if "marketing_cap_hours" in body:
        shop.marketing_cap_hours = cap
    db().commit()
    return jsonify(_settings_json(shop))
