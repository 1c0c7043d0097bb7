"""The one-click fix of a phone saved without its country calling code: write the E.164
number to Shopify with ``customerUpdate``, then to our customer.

Shopify is the source of truth: we change our copy only after Shopify accepted the number, and
with the ``updatedAt`` Shopify answered, so the ``customers/update`` webhook this change
triggers (or an older one still in flight) cannot put the old number back.

Both marketing consents (WhatsApp and SMS) belong to the phone number in Shopify
(``CustomerPhoneNumber``), and Shopify does not promise they survive a change of number. So the
mutation's answer carries them, and we store what Shopify holds after the change by the usual
rules (core/shopify/customers.py), and also when Shopify answers a consent without a date in
place of one the customer had given: that is the change dropping it. Whenever the customer was
subscribed on a channel before the fix and is not after it, the fix answers a warning
(``CONSENT_RESET``), for the merchant to ask the customer to subscribe again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core.db import session_scope
from core.models import Customer
from core.rules.campaign_states import Consent, ConsentSource
from core.rules.phones import suggest_e164, to_e164
from core.shopify.admin import AdminClient
from core.shopify.customers import SMS, WHATSAPP, ConsentChange, ConsentState, apply_consents, lock_customers
from core.shopify.queries import CUSTOMER_UPDATE_PHONE
from core.shopify.shapes import parse_time, phone_consents

# Each channel's consent columns, and how a warning names it.
_CHANNELS = {
    WHATSAPP: ("consent", "consent_updated_at", "WhatsApp marketing consent"),
    SMS: ("sms_consent", "sms_consent_updated_at", "SMS marketing consent"),
}


@dataclass(frozen=True)
class PhoneFixed:
    """The customer as held after the fix (None: deleted meanwhile), and what the merchant
    should know about it."""

    customer: Customer | None
    warnings: list[dict] = field(default_factory=list)


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


def write_phone(client: AdminClient, customer: Customer, phone: str) -> PhoneFixed:
    """Set the phone in Shopify (UserErrors and the client's errors propagate), then ours, with
    the consents Shopify answered."""
    result = client.mutate(
        CUSTOMER_UPDATE_PHONE,
        {"input": {"id": f"gid://shopify/Customer/{customer.shopify_customer_id}", "phone": phone}},
        "customerUpdate",
        idempotent=True,  # setting a field to a value: repeating it changes nothing
    )
    node = result.get("customer") or {}
    phone_number = node.get("defaultPhoneNumber") or {}
    stored = phone_number.get("phoneNumber") or phone
    updated_at = parse_time(node.get("updatedAt")) or datetime.now(UTC)
    consents = [c for c in phone_consents(phone_number) if c is not None]
    return _save(customer, stored, updated_at, consents)


def _save(customer: Customer, phone: str, updated_at: datetime, consents: list[ConsentState]) -> PhoneFixed:
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
        before = _held(session, customer)
        for state in consents:
            apply_consents(
                session, customer.shop_id, [ConsentChange(customer.shopify_customer_id, phone, state)]
            )
            if _dropped(state, before.get(state.source)):
                _store_dropped(session, customer, state)
        saved = session.scalar(
            select(Customer).where(Customer.shop_id == customer.shop_id, Customer.id == customer.id)
        )
        return PhoneFixed(saved, _warnings(before, _held(session, customer)))


def _held(session: Session, customer: Customer) -> dict[str, str | None]:
    """Our customer's consent per channel, as held now."""
    row = session.execute(
        select(Customer.consent, Customer.sms_consent).where(
            Customer.shop_id == customer.shop_id, Customer.id == customer.id
        )
    ).first()
    return {WHATSAPP: row.consent, SMS: row.sms_consent} if row else {}


def _dropped(state: ConsentState, held: str | None) -> bool:
    """Shopify answered, undated, a consent other than the one the customer had given: the
    change of number dropped it."""
    return state.updated_at is None and held == Consent.SUBSCRIBED and state.consent != Consent.SUBSCRIBED


def _store_dropped(session: Session, customer: Customer, state: ConsentState) -> None:
    """Store a dropped consent (``_dropped``). The usual rules keep a dated consent over an
    undated one, so this is stored here, or we would go on messaging someone Shopify no longer
    has subscribed."""
    consent_column, time_column, _ = _CHANNELS[state.source]
    values = {consent_column: str(state.consent), time_column: None}
    if state.source == WHATSAPP:
        values["consent_source"] = str(ConsentSource.SHOPIFY)
    session.execute(
        update(Customer)
        .where(Customer.shop_id == customer.shop_id, Customer.id == customer.id)
        .values(values)
    )


def _warnings(before: dict[str, str | None], after: dict[str, str | None]) -> list[dict]:
    """One ``CONSENT_RESET`` per channel the customer was subscribed on and is not any more."""
    warnings = []
    for channel, (_, _, name) in _CHANNELS.items():
        if before.get(channel) == Consent.SUBSCRIBED and after.get(channel) != Consent.SUBSCRIBED:
            warnings.append(
                {
                    "code": "CONSENT_RESET",
                    "channel": channel,
                    "before": before[channel],
                    "after": after.get(channel),
                    "message": (
                        f"After the phone change Shopify holds this customer's {name} as "
                        f"{_words(after.get(channel))} (it was {_words(before[channel])}): campaigns "
                        "no longer reach them by it until they subscribe again."
                    ),
                }
            )
    return warnings


def _words(state: str | None) -> str:
    return (state or "unknown").replace("_", " ").lower()
