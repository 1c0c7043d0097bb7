"""``PUT /api/whatsapp/send-cap`` {"messages_per_second": 1..1000 | null}: the shop's own lower
send rate (core/whatsapp/send_cap.py); answers the connection as ``GET /api/whatsapp`` does,
422 {"errors": [{"field", "message"}]} for a value out of range."""

from __future__ import annotations

from flask import jsonify, request

from core.whatsapp.send_cap import BadCap, set_send_cap
from core.whatsapp.state import describe
from web.api import blueprint
from web.database import db
from web.tenancy import current_shop

FIELD = "messages_per_second"


@blueprint.put("/whatsapp/send-cap")
def put_send_cap():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or FIELD not in body:
        return jsonify(
            errors=[{"field": FIELD, "message": "Required: a number, or null for Meta's cap."}]
        ), 422
    try:
        set_send_cap(db(), current_shop(), body[FIELD])
    except BadCap as error:
        return jsonify(errors=[{"field": FIELD, "message": str(error)}]), 422
    db().commit()
    return jsonify(describe(db(), current_shop()))
