"""One customer of the shop (CONTRACT.md).

``GET /api/customers/<shopify_customer_id>/whatsapp``: what WhatsApp knows about them, for the
customer-page block (extensions/whatsapp-customer-block). ``POST .../fix-phone``: write a
corrected phone number back to Shopify. Body ``{"phone": "+..."}``, or empty to apply our
suggestion: the stored number read as national to the customer's address country
(core/rules/phones.py). Both answer the customer in the same shape (core/reports/customer.py).
"""

from __future__ import annotations

from flask import jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import BadRequest, NotFound

from core.models import Campaign, Customer, Message
from core.reports.customer import customer_json, customer_whatsapp, find_customer
from core.rules.failure_codes import OurCode
from core.shopify.admin import (
    AdminClient,
    ReauthorizationRequired,
    ShopifyError,
    ShopifyUnavailable,
    UserErrors,
)
from core.shopify.phone_fix import PhoneRejected, choose_phone, write_phone
from web.api import blueprint
from web.database import db, release_transaction
from web.paging import page_limit
from web.reports import forget_calling_code
from web.tenancy import current_shop

# The block shows a customer's latest campaigns, not their history.
BLOCK_MESSAGES = 10
# The merchant is waiting on a click: fewer, shorter retries than a job's.
INTERACTIVE = {"max_attempts": 3, "max_wait_s": 2.0}


def _requested_phone() -> object:
    """The ``phone`` of the body; None when the body is empty or names no phone."""
    if not request.get_data(cache=True).strip():
        return None
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest('The body must be empty or a JSON object like {"phone": "+34612345678"}.')
    return body.get("phone")


def customer_of_shop(shop_id: int, shopify_customer_id: int) -> Customer:
    customer = find_customer(db(), shop_id, shopify_customer_id)
    if customer is None:
        raise NotFound("This shop has no such customer.")
    return customer


@blueprint.get("/customers/<id:shopify_customer_id>/whatsapp")
def customer_whatsapp_state(shopify_customer_id: int):
    """Answer ``CustomerWhatsApp`` for the customer-page block, ``?limit=`` messages (10 by default)."""
    customer = customer_of_shop(current_shop().id, shopify_customer_id)
    limit = page_limit(request.args.get("limit"), default=BLOCK_MESSAGES)
    return jsonify(customer_whatsapp(db(), customer, limit))


def _errors(code: str, errors: list[dict], status: int = 422):
    return jsonify(error=code, errors=errors), status


@blueprint.post("/customers/<id:shopify_customer_id>/fix-phone")
def fix_phone(shopify_customer_id: int):
    shop = current_shop()
    customer = customer_of_shop(shop.id, shopify_customer_id)
    try:
        phone = choose_phone(customer, _requested_phone())
    except PhoneRejected as rejected:
        return _errors(rejected.code, [{"field": ["phone"], "message": str(rejected)}])
    release_transaction()  # Shopify may take seconds: no transaction of ours waits on it
    try:
        with AdminClient(shop.id, **INTERACTIVE) as client:
            fixed = write_phone(client, customer, phone)
    except UserErrors as refused:
        return _errors("shopify_user_errors", refused.errors)
    except ReauthorizationRequired:
        message = "Shopify access has lapsed for this shop: open the app from the Shopify admin to renew it."
        return jsonify(error="shopify_reauthorization_required", message=message), 409
    except (ShopifyUnavailable, ShopifyError):
        return jsonify(error="shopify_unavailable", message="Shopify did not answer; try again shortly."), 503
    if fixed.customer is None:
        raise NotFound("The customer was deleted meanwhile.")
    forget_calling_code(_campaigns_to_refresh(shop.id, customer.id))
    # What the merchant should know, such as consent Shopify dropped with the old number.
    return jsonify(customer_json(fixed.customer) | {"warnings": fixed.warnings})


def _campaigns_to_refresh(shop_id: int, customer_id: int) -> list[Campaign]:
    """Campaigns whose calling-code report counted this customer."""
    failed_for_code = select(Message.campaign_id).where(
        Message.shop_id == shop_id,
        Message.customer_id == customer_id,
        Message.error_code == OurCode.CUSTOMER_IS_MISSING_CALLING_CODE,
    )
    return list(
        db().scalars(select(Campaign).where(Campaign.shop_id == shop_id, Campaign.id.in_(failed_for_code)))
    )
