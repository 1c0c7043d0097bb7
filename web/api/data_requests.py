"""Shopify's ``customers/data_request``, fulfilled by the merchant from the Settings page:

- ``GET /api/data-requests``: the shop's open requests;
- ``GET /api/data-requests/<id>``: the customer's data as a JSON download;
- ``POST /api/data-requests/<id>/done``: mark it handed over (204); it leaves the list.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import Response, jsonify
from werkzeug.exceptions import NotFound

from core.models import CustomerDataRequest
from core.shopify.privacy import data_request_document, data_request_summary, open_data_requests
from web.api import blueprint
from web.database import db
from web.tenancy import current_shop


def _request_of_shop(request_id: int) -> CustomerDataRequest:
    request = db().get(CustomerDataRequest, (current_shop().id, request_id))
    if request is None:
        raise NotFound("This shop has no such data request.")
    return request


@blueprint.get("/data-requests")
def list_data_requests():
    return jsonify(
        data_requests=[data_request_summary(r) for r in open_data_requests(db(), current_shop().id)]
    )


@blueprint.get("/data-requests/<id:request_id>")
def download_data_request(request_id: int):
    request = _request_of_shop(request_id)
    body = json.dumps(data_request_document(request), indent=2, ensure_ascii=False)
    response = Response(body, mimetype="application/json")
    filename = f"customer-{request.shopify_customer_id}-data.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blueprint.post("/data-requests/<id:request_id>/done")
def fulfil_data_request(request_id: int):
    request = _request_of_shop(request_id)
    if request.fulfilled_at is None:
        request.fulfilled_at = datetime.now(UTC)
        db().commit()
    return "", 204
