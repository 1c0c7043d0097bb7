"""Shopify's mandatory compliance requests: erase a customer, erase a shop, record a request
for a customer's data.

Shopify's bodies hold customers' personal data too; the Shopify inbox keeps them only until
the retention sweep (jobs/shopify.py), so an erasure is complete within days, inside the 30
days Shopify allows.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from core.models import Base, Customer, CustomerDataRequest, Message, Shop
from core.shopify.customers import lock_customers, remove_customers

_SHOP_INBOX = text(
    """
    DELETE FROM inbox_events
     WHERE source = 'shopify' AND processed_at IS NOT NULL
       AND headers ->> 'X-Shopify-Shop-Domain' = :domain
    """
)


# The outcomes a customer leaves: the numbers of their phone fixes (erased) and their orders
# (kept for the shop's revenue, no longer linked to anyone).
_CUSTOMER_OUTCOMES = (
    text(
        """
        DELETE FROM phone_fixes f USING customers c
         WHERE c.shop_id = :shop_id AND c.shopify_customer_id = :customer
           AND f.shop_id = c.shop_id AND f.customer_id = c.id
        """
    ),
    text(
        """
        UPDATE orders SET shopify_customer_id = NULL
         WHERE shop_id = :shop_id AND shopify_customer_id = :customer
        """
    ),
)


def redact_customer(session: Session, shop_id: int, shopify_customer_id: int) -> int:
    """Erase what we hold about one customer: their row (tombstoned, so no late webhook or
    import brings it back), the phone numbers their messages and phone fixes kept, their link
    to their orders, and the data snapshot of any earlier data request."""
    lock_customers(session, shop_id)
    for statement in _CUSTOMER_OUTCOMES:
        session.execute(statement, {"shop_id": shop_id, "customer": shopify_customer_id})
    removed = remove_customers(session, shop_id, [shopify_customer_id], "redacted")
    session.execute(
        update(CustomerDataRequest)
        .where(
            CustomerDataRequest.shop_id == shop_id,
            CustomerDataRequest.shopify_customer_id == shopify_customer_id,
        )
        .values(held=None)
    )
    return removed


def redact_shop(session: Session, shop: Shop) -> dict[str, int]:
    """Erase everything of the shop: every shop-owned row of every table (children first),
    the shop itself, and its Shopify webhook bodies already applied."""
    erased = {}
    for table in reversed(Base.metadata.sorted_tables):
        if table.name != "shops" and "shop_id" in table.c:
            erased[table.name] = session.execute(delete(table).where(table.c.shop_id == shop.id)).rowcount
    session.execute(delete(Shop).where(Shop.id == shop.id))
    erased["inbox_events"] = session.execute(_SHOP_INBOX, {"domain": shop.domain}).rowcount
    return erased


def record_data_request(session: Session, shop_id: int, body: dict, shopify_customer_id: int) -> int:
    """Keep the request with a snapshot of the data we hold about the customer, for the
    merchant to hand over. Return the request's id."""
    request = CustomerDataRequest(
        shop_id=shop_id,
        shopify_customer_id=shopify_customer_id,
        data_request_id=_int((body.get("data_request") or {}).get("id")),
        orders_requested=[o for o in body.get("orders_requested") or [] if isinstance(o, int | str)],
        held=held_data(session, shop_id, shopify_customer_id),
    )
    session.add(request)
    session.flush()
    return request.id


def held_data(session: Session, shop_id: int, shopify_customer_id: int) -> dict | None:
    customer = session.scalar(
        select(Customer).where(
            Customer.shop_id == shop_id, Customer.shopify_customer_id == shopify_customer_id
        )
    )
    if customer is None:
        return None
    count, first, last = session.execute(
        select(func.count(), func.min(Message.created_at), func.max(Message.created_at)).where(
            Message.shop_id == shop_id, Message.customer_id == customer.id
        )
    ).one()
    return {
        "customer": {
            "shopify_id": customer.shopify_customer_id,
            "first_name": customer.first_name,
            "last_name": customer.last_name,
            "phone": customer.phone,
            "country_code": customer.country_code,
            "tags": list(customer.tags),
            "whatsapp_marketing_consent": customer.consent,
            "sms_marketing_consent": customer.sms_consent,
        },
        "messages": {
            "count": count,
            "first_at": first.isoformat() if first else None,
            "last_at": last.isoformat() if last else None,
        },
    }


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
