"""The one-click fix of a phone saved without its country calling code: write the E.164
number to Shopify with ``customerUpdate``, then to our customer.

Shopify is the source of truth: we change our copy only after Shopify accepted the number, and
with the ``updatedAt`` Shopify answered, so the ``customers/update`` webhook this change
triggers (or an older one still in flight) cannot put the old number back.
"""

from __future__ import annotations

from datetime import UTC, datetime

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from sqlalchemy import or_, select, update

from core.db import session_scope
from core.models import Customer
from core.rules.phones import suggest_e164, to_e164
from core.shopify.admin import AdminClient
from core.shopify.customers import lock_customers
from core.shopify.queries import CUSTOMER_UPDATE_PHONE
from core.shopify.shapes import parse_time


class PhoneRejected(ValueError):
    """We will not send this number to Shopify: ``code`` is ``invalid_phone`` or
    ``no_suggestion``; the message says why in the merchant's words."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def choose_phone(customer: Customer, requested: object) -> str:
    """The E.164 number to write: the one asked for, or (when none is) our suggestion."""
    if requested is None:
        suggestion = suggest_e164(customer.phone, customer.country_code)
        if suggestion is None:
            raise PhoneRejected(
                "no_suggestion",
                "No valid number follows from this customer's phone and address country; "
                "give the number with its country code.",
            )
        return suggestion
    return valid_e164(requested)


def valid_e164(raw: object) -> str:
    """``raw`` read as an international number (no default region: we never guess a country)."""
    if not isinstance(raw, str) or not raw.strip().startswith("+"):
        raise PhoneRejected(
            "invalid_phone", "Give the number in international format, starting with + and the country code."
        )
    try:
        number = phonenumbers.parse(raw, None)
    except NumberParseException:
        raise PhoneRejected("invalid_phone", f"{raw.strip()} is not a phone number.") from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneRejected("invalid_phone", f"{raw.strip()} is not a valid phone number.")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def write_phone(client: AdminClient, customer: Customer, phone: str) -> Customer:
    """Set the phone in Shopify (UserErrors and the client's errors propagate), then ours."""
    result = client.mutate(
        CUSTOMER_UPDATE_PHONE,
        {"input": {"id": f"gid://shopify/Customer/{customer.shopify_customer_id}", "phone": phone}},
        "customerUpdate",
        idempotent=True,  # setting a field to a value: repeating it changes nothing
    )
    node = result.get("customer") or {}
    stored = (node.get("defaultPhoneNumber") or {}).get("phoneNumber") or phone
    updated_at = parse_time(node.get("updatedAt")) or datetime.now(UTC)
    return _save(customer, stored, updated_at)


def _save(customer: Customer, phone: str, updated_at: datetime) -> Customer:
    with session_scope() as session:
        lock_customers(session, customer.shop_id)
        session.execute(
            update(Customer)
            .where(
                Customer.shop_id == customer.shop_id,
                Customer.id == customer.id,
                or_(Customer.shopify_updated_at.is_(None), Customer.shopify_updated_at <= updated_at),
            )
            .values(phone=phone, phone_e164=to_e164(phone), shopify_updated_at=updated_at)
        )
        return session.scalar(
            select(Customer).where(Customer.shop_id == customer.shop_id, Customer.id == customer.id)
        )
