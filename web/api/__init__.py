"""The JSON API behind the embedded pages. Every request carries a Shopify session token in
``Authorization: Bearer``; the shop it names is the only shop the request can see. Errors
answer as JSON (web/errors.py); ids in paths are ``<id:...>`` (web/inputs.py)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from web.auth import InvalidSessionToken, bearer_token
from web.cors import is_preflight, preflight_response
from web.tenancy import authenticate

blueprint = Blueprint("api", __name__)

__all__ = ["blueprint"]  # registered by create_app under /api


@blueprint.before_request
def require_session_token():
    if is_preflight():
        return preflight_response()  # carries no token by design: the browser asks first
    try:
        shop = authenticate(bearer_token(request.headers.get("Authorization")))
    except InvalidSessionToken as error:
        # App Bridge reads this header, fetches a fresh token and retries the request once.
        response = jsonify(error="invalid_session_token", message=str(error))
        response.status_code = 401
        response.headers["X-Shopify-Retry-Invalid-Session-Request"] = "1"
        return response
    if shop is None:
        return jsonify(
            error="shop_not_installed", message="Open the app from the Shopify admin to install it."
        ), 403
    return None


from web.api import (  # noqa: E402,F401  (register their routes)
    alerts,
    campaign_actions,
    campaign_control,
    campaign_holdout,
    campaign_resume,
    campaigns,
    composer,
    consent_settings,
    credits,
    customers,
    data_requests,
    fixes,
    insights,
    messages,
    outcome_settings,
    send_cap,
    whatsapp,
)
