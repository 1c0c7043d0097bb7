"""``GET /api/credits``: the balance, what campaigns still sending hold, the packs on sale and
the latest movements; ``POST /api/credits/purchase``: buy a pack through Shopify (answers the
page to send the merchant to); ``POST /api/credits/purchases/confirm``: on the merchant's
return from that page, read the shop's waiting purchases back from Shopify and credit what is
ACTIVE. The shop is always the session token's (web/tenancy.py)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import jsonify, request
from sqlalchemy import select

from core.models import Shop
from core.outcomes.ledger import LedgerMovement, ledger, reserved_credits
from core.rules.credit_packs import PACKS, find_pack
from core.settings import get_settings
from core.shopify.admin import (
    AdminClient,
    GraphQLErrors,
    ReauthorizationRequired,
    ShopifyError,
    ShopifyUnavailable,
    UserErrors,
)
from core.shopify.billing import buy_pack, confirm_returned, return_url
from web.api import blueprint
from web.database import db, release_transaction
from web.tenancy import current_shop

INTERACTIVE = {"max_attempts": 3, "max_wait_s": 2.0}


def packs_json() -> list[dict]:
    return [
        {"id": p.id, "credits": p.credits, "price": {"amount": str(p.amount), "currency": p.currency}}
        for p in PACKS
    ]


def _movement_json(m: LedgerMovement) -> dict:
    purchase = m.purchase
    return {
        "kind": m.kind,
        "amount": m.amount,
        "shortfall": m.shortfall,
        "campaign_id": m.campaign_id,
        "campaign": {"id": m.campaign_id, "name": m.campaign_name} if m.campaign_id is not None else None,
        "purchase": None
        if purchase is None
        else {
            "id": purchase.purchase_gid,
            "pack": purchase.pack_id,
            "credits": purchase.credits,
            "price": {"amount": str(purchase.amount), "currency": purchase.currency},
            "status": purchase.status,
            "test": purchase.test,
        },
        "note": m.note,
        "at": m.created_at.isoformat(),
    }


def _credits_json(shop_id: int) -> dict:
    session = db()
    # Read afresh: a purchase credited in this request changed the balance in another session.
    balance = session.scalar(select(Shop.credits).where(Shop.id == shop_id))
    return {
        "balance": balance,
        "reserved": reserved_credits(session, shop_id),
        "packs": packs_json(),
        "movements": [_movement_json(m) for m in ledger(session, shop_id)],
    }


@blueprint.get("/credits")
def credits():
    return jsonify(_credits_json(current_shop().id))


def _shopify_failed(error: Exception):
    if isinstance(error, UserErrors):
        return jsonify(error="shopify_user_errors", errors=error.errors), 422
    if isinstance(error, GraphQLErrors):
        # Shopify refused the request itself (an app that may not bill this shop, say): its
        # words are the merchant's best clue.
        return jsonify(error="shopify_refused", message=f"Shopify refused the charge: {error}"), 502
    if isinstance(error, ReauthorizationRequired):
        message = "Shopify access has lapsed for this shop: open the app from the Shopify admin to renew it."
        return jsonify(error="shopify_reauthorization_required", message=message), 409
    return jsonify(error="shopify_unavailable", message="Shopify did not answer; try again shortly."), 503


def _return_url(domain: str) -> str:
    """Where Shopify sends the merchant back: the app inside the admin; under ``make run``
    (the Shopify stand-in, no admin) the development login, which opens Settings the same way."""
    settings = get_settings()
    if settings.may_mint_dev_tokens:
        page = urlencode({"shop": domain, "next": "/settings?credit_purchase=returned"})
        return f"{request.host_url}dev/login?{page}"
    return return_url(settings, domain)


@blueprint.post("/credits/purchase")
def buy_credits():
    shop = current_shop()
    body = request.get_json(silent=True)
    pack = find_pack(body.get("pack")) if isinstance(body, dict) else None
    if pack is None:
        choices = ", ".join(p.id for p in PACKS)
        return jsonify(errors=[{"field": "pack", "message": f"choose one of the packs: {choices}"}]), 422
    shop_id, back_to = shop.id, _return_url(shop.domain)
    release_transaction()  # Shopify may take seconds: no transaction of ours waits on it
    try:
        with AdminClient(shop_id, **INTERACTIVE) as client:
            started = buy_pack(client, shop_id, pack, back_to)
    except (UserErrors, ReauthorizationRequired, ShopifyUnavailable, ShopifyError) as error:
        return _shopify_failed(error)
    return jsonify(confirmation_url=started.confirmation_url)


@blueprint.post("/credits/purchases/confirm")
def confirm_purchases():
    shop_id = current_shop().id
    release_transaction()
    try:
        with AdminClient(shop_id, **INTERACTIVE) as client:
            credited = confirm_returned(client, shop_id)
    except (ReauthorizationRequired, ShopifyUnavailable, ShopifyError) as error:
        return _shopify_failed(error)
    return jsonify(_credits_json(shop_id) | {"credited": credited})
