"""What each Shopify topic does to our data. Every handler answers the event's outcome:
``applied``, ``stale`` (older than what we hold, or from before the shop's last install),
``ignored`` (a topic we do not use), ``unreadable`` (a consent webhook we could not read: the
shop gets an alert, as that customer's consent here may now be wrong) ..."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from shopify.utils.shop_url import sanitize_shop_domain
from sqlalchemy import update
from sqlalchemy.orm import Session

from core.models import Shop
from core.outcomes.purchases import find_purchase
from core.rules.alert_codes import AlertCode
from core.shopify import alerts, privacy, shapes
from core.shopify.customers import apply_consents, lock_customers, upsert_profiles
from core.shopify.orders import ORDER_HANDLERS
from core.shopify.tokens import forget_tokens
from core.whatsapp.release import release_number

Handler = Callable[[Session, Shop, dict, datetime], str]

# Topics whose body names its shop. The HMAC covers the body only, not X-Shopify-Shop-Domain:
# for these topics the signed body decides, and a header naming another shop is refused.
SHOP_IN_BODY = {
    "app/uninstalled": "myshopify_domain",  # the Shop object
    "customers/redact": "shop_domain",
    "customers/data_request": "shop_domain",
    "shop/redact": "shop_domain",
}


def names_its_shop(topic: str, body: dict, header_domain: str) -> bool:
    """Whether ``body`` is fit to act on the header's shop: true for topics that do not carry
    their shop; for those that do, only when the signed body names that same shop (a body
    without it, such as another topic's body replayed under this topic, is refused)."""
    field_name = SHOP_IN_BODY.get(topic)
    if field_name is None:
        return True
    named = body.get(field_name)
    return isinstance(named, str) and sanitize_shop_domain(named) == header_domain


def _customer_changed(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
    lock_customers(session, shop.id)
    return "applied" if upsert_profiles(session, shop.id, [shapes.from_webhook(body)]) else "stale"


def _customer_deleted(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
    privacy.delete_customer(session, shop.id, shapes.customer_id(body.get("id")))
    return "applied"


UNREADABLE_CONSENT = AlertCode.CONSENT_WEBHOOK_UNREADABLE


def _consent_changed(topic: str, read: Callable[[dict], shapes.ConsentChange]) -> Handler:
    def handle(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
        try:
            change = read(body)
        except shapes.BadPayload as problem:
            _unreadable_consent(session, shop.id, topic, body, problem)
            return "unreadable"
        lock_customers(session, shop.id)
        return "applied" if apply_consents(session, shop.id, [change]) else "stale"

    return handle


def _unreadable_consent(session: Session, shop_id: int, topic: str, body: dict, problem: Exception) -> None:
    """A consent Shopify sent that we cannot apply must not pass unseen: the customer's consent
    here may now differ from Shopify's."""
    customer = body.get("customer_id", body.get("id"))
    details = (
        f"Shopify sent {topic} for customer {customer!r} and it could not be read: {problem}. "
        "That customer's consent here may differ from Shopify's; check it in Shopify."
    )
    alerts.raise_alert(
        session, shop_id, UNREADABLE_CONSENT, "A consent update from Shopify could not be read", details
    )


def _bulk_finished(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
    """Our bulk export is done: "applied" tells the Shopify drain to queue its import now (the
    import's own polling is the fallback when this webhook is missed)."""
    operation = str(body.get("admin_graphql_api_id") or "")
    if not operation or operation != shop.customers_bulk_operation_id:
        return "ignored"  # an export we no longer wait for
    return "applied"


def _installed_since(shop: Shop, triggered: datetime) -> bool:
    # Uninstall and reinstall can be seconds apart while the webhook is delivered late: a
    # shop-level event from before the current install must not undo it.
    return shop.uninstalled_at is None and shop.installed_at > triggered


def _app_uninstalled(session: Session, shop: Shop, _body: dict, triggered: datetime) -> str:
    """The shop is marked uninstalled (from then on no claim hands out its messages:
    core/dispatch/claim.py), its Shopify tokens are forgotten and its WhatsApp number released.
    The drain's job then halts its campaigns and unsubscribes our app from the WABA
    (jobs/shopify.py), outside this transaction."""
    if _installed_since(shop, triggered):
        return "stale"
    session.execute(
        update(Shop).where(Shop.id == shop.id, Shop.uninstalled_at.is_(None)).values(uninstalled_at=triggered)
    )
    forget_tokens(session, shop.id)
    release_number(session, shop.id)
    return "applied"


def _scopes_updated(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
    current = body.get("current")
    if not isinstance(current, list):
        raise shapes.BadPayload("app/scopes_update without a list of current scopes")
    session.execute(update(Shop).where(Shop.id == shop.id).values(scopes=",".join(map(str, current))))
    return "applied"


def _customer_redact(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
    customer = _object(body.get("customer"))
    phone = customer.get("phone") if isinstance(customer.get("phone"), str) else None
    privacy.redact_customer(session, shop.id, shapes.customer_id(customer.get("id")), phone)
    return "applied"


def _shop_redact(session: Session, shop: Shop, body: dict, triggered: datetime) -> str:
    # Shopify sends shop/redact 48 hours after an uninstall and never to an installed app: the
    # signed request is proof of the uninstall even when app/uninstalled was missed, so it is
    # applied as one first. The erasure itself is the privacy job's (core/shopify/privacy.py).
    if _app_uninstalled(session, shop, body, triggered) == "stale":
        return "stale"  # sent before the shop installed the app again
    privacy.record_shop_erasure(session, shop.id)
    return "applied"


def _data_request(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
    customer = shapes.customer_id(_object(body.get("customer")).get("id"))
    privacy.record_data_request(session, shop.id, body, customer)
    return "applied"


PURCHASE_TOPIC = "app_purchases_one_time/update"


def purchase_gid(body: dict) -> str | None:
    """Shopify's id of the purchase an ``app_purchases_one_time/update`` body is about."""
    gid = _object(body.get("app_purchase_one_time")).get("admin_graphql_api_id")
    return gid if isinstance(gid, str) and gid else None


def _purchase_updated(session: Session, shop: Shop, body: dict, _triggered: datetime) -> str:
    """A credit pack's purchase changed in Shopify. The body's status is not trusted (it is
    what someone holding a signed body says): "applied" only tells the drain's job to read the
    purchase back from Shopify (core/shopify/billing.py), which credits it when ACTIVE. A
    purchase this shop never started here is ignored."""
    gid = purchase_gid(body)
    if gid is None:
        raise shapes.BadPayload(
            "app_purchases_one_time/update without app_purchase_one_time.admin_graphql_api_id"
        )
    return "applied" if find_purchase(session, shop.id, gid) is not None else "ignored"


def _object(value: object) -> dict:
    return value if isinstance(value, dict) else {}


HANDLERS: dict[str, Handler] = {
    "customers/create": _customer_changed,
    "customers/update": _customer_changed,
    "customers/delete": _customer_deleted,
    # Shopify's topic names for the consent webhooks (its webhook reference and the
    # WebhookSubscriptionTopic enum): CUSTOMERS_MARKETING_CONSENT_UPDATE (SMS) and
    # CUSTOMERS_WHATS_APP_MARKETING_CONSENT_UPDATE.
    "customers_marketing_consent/update": _consent_changed(
        "customers_marketing_consent/update", shapes.sms_consent_change
    ),
    "customers_whats_app_marketing_consent/update": _consent_changed(
        "customers_whats_app_marketing_consent/update", shapes.whatsapp_consent_change
    ),
    "bulk_operations/finish": _bulk_finished,
    "app/uninstalled": _app_uninstalled,
    "app/scopes_update": _scopes_updated,
    "customers/redact": _customer_redact,
    "shop/redact": _shop_redact,
    "customers/data_request": _data_request,
    PURCHASE_TOPIC: _purchase_updated,
    **ORDER_HANDLERS,
}


def apply_topic(session: Session, shop: Shop, topic: str, body: dict, triggered: datetime) -> str:
    handler = HANDLERS.get(topic)
    return handler(session, shop, body, triggered) if handler else "ignored"
