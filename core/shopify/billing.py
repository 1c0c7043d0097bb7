"""Credit packs through Shopify's Billing API: create a one-time purchase, and credit it once
Shopify says it is ACTIVE, read back from the Admin API, never from what a caller claims.

- ``buy_pack``: ``appPurchaseOneTimeCreate`` for a pack; the merchant is sent to the
  ``confirmationUrl`` Shopify answers, and comes back to ``returnUrl``. The charge is a test
  charge outside production and on development stores (``shop.plan.partnerDevelopment``),
  which accept nothing else.
- ``confirm_purchase``: the webhook's purchase read back by ``node(id:)``; a node that is not
  our ``AppPurchaseOneTime`` for this shop's token answers nothing, and nothing is credited.
- ``confirm_returned``: on the merchant's return, the shop's latest purchases of our app
  (``currentAppInstallation.oneTimePurchases``) applied to the ones we are waiting for.

Every Shopify call happens outside any transaction of ours: read, let go, call, then write what
Shopify answered in a short transaction of its own (core/outcomes/purchases.py grants there).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.db import session_scope
from core.outcomes.purchases import Applied, apply_status, record_purchase, waiting_purchases
from core.rules.credit_packs import Pack
from core.settings import Settings, get_settings
from core.shopify.admin import AdminClient, ShopifyError
from core.shopify.queries import (
    BILLING_SHOP_PLAN,
    CREDIT_PURCHASE,
    CREDIT_PURCHASE_CREATE,
    CREDIT_PURCHASES_RECENT,
)

PURCHASE_TYPE = "AppPurchaseOneTime"
GID_PREFIX = f"gid://shopify/{PURCHASE_TYPE}/"
RECENT = 25  # purchases read on return: more than a merchant starts in one sitting


@dataclass(frozen=True)
class Started:
    purchase_gid: str
    confirmation_url: str
    test: bool


def return_url(settings: Settings, shop_domain: str) -> str:
    """Where Shopify sends the merchant after the approval page: the app's Settings inside the
    admin (the admin loads it with a fresh session token), marked so the page confirms the
    purchase at once rather than wait for the webhook."""
    handle = shop_domain.removesuffix(".myshopify.com")
    return f"https://admin.shopify.com/store/{handle}/apps/{settings.shopify_api_key}/settings?credit_purchase=returned"


def buy_pack(client: AdminClient, shop_id: int, pack: Pack, back_to: str) -> Started:
    """Create the purchase in Shopify and keep it as waiting; UserErrors and the client's
    errors (ShopifyError for an answer without a purchase) propagate, and nothing is kept."""
    plan = (client.query(BILLING_SHOP_PLAN).get("shop") or {}).get("plan") or {}
    test = not get_settings().is_production or bool(plan.get("partnerDevelopment"))
    variables = {
        "name": pack.name,
        "price": {"amount": str(pack.amount), "currencyCode": pack.currency},
        "returnUrl": back_to,
        "test": test,
    }
    # Not retried after a failure that may have reached Shopify: a second purchase would be a
    # second charge waiting for the merchant.
    created = client.mutate(CREDIT_PURCHASE_CREATE, variables, "appPurchaseOneTimeCreate", idempotent=False)
    purchase = created.get("appPurchaseOneTime") or {}
    if not purchase.get("id") or not created.get("confirmationUrl"):
        raise ShopifyError("Shopify created no purchase to confirm")
    with session_scope() as session:
        record_purchase(session, shop_id, pack, purchase["id"], bool(purchase.get("test", test)))
    return Started(purchase["id"], created["confirmationUrl"], bool(purchase.get("test", test)))


def confirm_purchase(client: AdminClient, shop_id: int, purchase_gid: str) -> Applied:
    """Read the purchase back from Shopify with the shop's own token and apply its status."""
    if not purchase_gid.startswith(GID_PREFIX):
        return Applied(found=False, status=None, credited=0)
    node = client.query(CREDIT_PURCHASE, {"id": purchase_gid}).get("node") or {}
    if node.get("id") != purchase_gid or not node.get("status"):
        return Applied(found=False, status=None, credited=0)  # not a purchase this shop can see
    with session_scope() as session:
        return apply_status(session, shop_id, purchase_gid, node["status"])


def confirm_returned(client: AdminClient, shop_id: int) -> int:
    """Apply what Shopify says of every purchase the shop is waiting for; answer the credits
    granted now."""
    with session_scope() as session:
        waiting = set(waiting_purchases(session, shop_id))
    if not waiting:
        return 0
    installation = (
        client.query(CREDIT_PURCHASES_RECENT, {"first": RECENT}).get("currentAppInstallation") or {}
    )
    nodes = (installation.get("oneTimePurchases") or {}).get("nodes") or []
    credited = 0
    for node in nodes:
        if node.get("id") in waiting and node.get("status"):
            with session_scope() as session:
                credited += apply_status(session, shop_id, node["id"], node["status"]).credited
    return credited
