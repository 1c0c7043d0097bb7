"""Shopify's mandatory compliance requests: erase a customer, erase a shop, record a request
for a customer's data.

Shopify's bodies hold customers' personal data too; the Shopify inbox keeps them only until
the retention sweep (jobs/shopify.py), so an erasure is complete within days, inside the 30
days Shopify allows.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from core.inbox.store import drop_bodies_naming
from core.models import (
    Base,
    Customer,
    CustomerDataRequest,
    CustomerTombstone,
    Message,
    Shop,
    WhatsAppConnection,
)
from core.shopify.customers import lock_customers, remove_customers
from core.shopify.erasure import erase_numbers, phone_digests

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


def delete_customer(session: Session, shop_id: int, shopify_customer_id: int) -> int:
    """``customers/delete``: remove the customer (tombstoned), keeping on the tombstone only the
    digests of their numbers, so that a later redaction still finds the messages this detaches."""
    lock_customers(session, shop_id)
    customer = _customer(session, shop_id, shopify_customer_id)
    removed = remove_customers(session, shop_id, [shopify_customer_id], "deleted")
    if customer is not None:
        session.execute(
            update(CustomerTombstone)
            .where(
                CustomerTombstone.shop_id == shop_id,
                CustomerTombstone.shopify_customer_id == shopify_customer_id,
            )
            .values(phone_digests=phone_digests([customer.phone, customer.phone_e164]) or None)
        )
    return removed


def redact_customer(
    session: Session, shop_id: int, shopify_customer_id: int, phone: str | None = None
) -> int:
    """Erase what we hold about one customer: their row (tombstoned, so no late webhook or
    import brings it back), their numbers wherever they are (core/shopify/erasure.py: found through
    the row, the number ``phone`` that Shopify's request names, and a deletion's digests), and
    the data snapshot of any earlier data request; their phone fixes go and their orders stay,
    linked to no one."""
    lock_customers(session, shop_id)
    for statement in _CUSTOMER_OUTCOMES:
        session.execute(statement, {"shop_id": shop_id, "customer": shopify_customer_id})
    customer = _customer(session, shop_id, shopify_customer_id)
    tombstone = session.get(CustomerTombstone, (shop_id, shopify_customer_id))
    erase_numbers(
        session,
        shop_id,
        [phone, *((customer.phone, customer.phone_e164) if customer else ())],
        customer_ids=[customer.id] if customer else [],
        digests=(tombstone.phone_digests or []) if tombstone else [],
    )
    removed = remove_customers(session, shop_id, [shopify_customer_id], "redacted")
    session.execute(
        update(CustomerTombstone)
        .where(
            CustomerTombstone.shop_id == shop_id,
            CustomerTombstone.shopify_customer_id == shopify_customer_id,
        )
        .values(phone_digests=None)
    )
    session.execute(
        update(CustomerDataRequest)
        .where(
            CustomerDataRequest.shop_id == shop_id,
            CustomerDataRequest.shopify_customer_id == shopify_customer_id,
        )
        .values(held=None)
    )
    return removed


def _customer(session: Session, shop_id: int, shopify_customer_id: int) -> Customer | None:
    return session.scalar(
        select(Customer).where(
            Customer.shop_id == shop_id, Customer.shopify_customer_id == shopify_customer_id
        )
    )


def redact_shop(session: Session, shop: Shop) -> dict[str, int]:
    """Erase everything of the shop: every shop-owned row of every table (children first),
    the shop itself, its Shopify webhook bodies already applied, and the bodies of Meta's
    webhooks for its phone number (they name its customers' numbers)."""
    erased = {}
    numbers = _phone_numbers_of(session, shop)  # read before the connection row goes
    for table in reversed(Base.metadata.sorted_tables):
        if table.name != "shops" and "shop_id" in table.c:
            erased[table.name] = session.execute(delete(table).where(table.c.shop_id == shop.id)).rowcount
    session.execute(delete(Shop).where(Shop.id == shop.id))
    erased["inbox_events"] = session.execute(_SHOP_INBOX, {"domain": shop.domain}).rowcount
    if numbers:
        erased["meta_bodies"] = sum(drop_bodies_naming(session, "meta", number) for number in numbers)
    return erased


def _phone_numbers_of(session: Session, shop: Shop) -> list[str]:
    """The shop's WhatsApp number, connected or released (a disconnect or an uninstall takes it
    off the shop's row and leaves it on the connection row)."""
    released = session.scalar(
        select(WhatsAppConnection.phone_number_id).where(WhatsAppConnection.shop_id == shop.id)
    )
    return sorted({number for number in (shop.meta_phone_number_id, released) if number})


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
    customer = _customer(session, shop_id, shopify_customer_id)
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


def open_data_requests(session: Session, shop_id: int) -> list[CustomerDataRequest]:
    """The shop's data requests not yet marked done, oldest first (Shopify allows 30 days)."""
    return list(
        session.scalars(
            select(CustomerDataRequest)
            .where(CustomerDataRequest.shop_id == shop_id, CustomerDataRequest.fulfilled_at.is_(None))
            .order_by(CustomerDataRequest.received_at, CustomerDataRequest.id)
        )
    )


def data_request_summary(request: CustomerDataRequest) -> dict:
    """One open request as the API and the Settings page list it."""
    return {
        "id": request.id,
        "shopify_customer_id": request.shopify_customer_id,
        "data_request_id": request.data_request_id,
        "received_at": request.received_at.isoformat(),
        "has_data": request.held is not None,
    }


def data_request_document(request: CustomerDataRequest) -> dict:
    """What the merchant hands the customer: the data we held when Shopify asked, and the request."""
    held = request.held or {}
    return {
        "request": {
            "data_request_id": request.data_request_id,
            "shopify_customer_id": request.shopify_customer_id,
            "orders_requested": request.orders_requested,
            "received_at": request.received_at.isoformat(),
        },
        "customer": held.get("customer"),
        "messages": held.get("messages"),
        "note": None if held else "This app held no data about the customer (or it has since been erased).",
    }
