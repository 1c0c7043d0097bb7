"""Reading Shopify's two shapes of a customer: GraphQL nodes (the import) and REST webhook
bodies. Anything missing or malformed reads as "not said", never as a guess."""

from __future__ import annotations

from datetime import UTC, datetime

from core.shopify.customers import SMS, WHATSAPP, ConsentChange, ConsentState, CustomerRecord, to_consent


class BadPayload(ValueError):
    """A body that lacks what its topic must carry (the message says what)."""


def parse_time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def customer_id(value: object) -> int:
    """A customer id from ``123``, ``"123"`` or ``"gid://shopify/Customer/123"``."""
    tail = str(value or "").rsplit("/", 1)[-1]
    if not tail.isdigit():
        raise BadPayload(f"not a customer id: {value!r}")
    return int(tail)


def _state(consent: object, source: str, state_key: str, time_key: str) -> ConsentState | None:
    if not isinstance(consent, dict) or not consent.get(state_key):
        return None
    return ConsentState(to_consent(consent[state_key]), source, parse_time(consent.get(time_key)))


# ---- GraphQL -----------------------------------------------------------------------------------


def phone_consents(phone_number: dict) -> tuple[ConsentState | None, ConsentState | None]:
    """The WhatsApp and the SMS marketing consent of a ``CustomerPhoneNumber`` node."""
    return (
        _state(phone_number.get("whatsAppMarketingConsent"), WHATSAPP, "state", "updatedAt"),
        _state(phone_number.get("smsMarketingConsent"), SMS, "state", "updatedAt"),
    )


def from_graphql(node: dict) -> CustomerRecord:
    """Return a customer node as CUSTOMERS_PAGE and BULK_CUSTOMERS select it (a page or a bulk line).
    Both consents belong to the default phone number: a customer without one says nothing
    about either."""
    phone_number = node.get("defaultPhoneNumber") or {}
    address = node.get("defaultAddress") or {}
    whatsapp, sms = phone_consents(phone_number)
    updated_at = parse_time(node.get("updatedAt"))
    if updated_at is None:
        raise BadPayload(f"customer {node.get('id')!r} has no updatedAt")
    return CustomerRecord(
        shopify_customer_id=customer_id(node.get("id")),
        first_name=node.get("firstName") or "",
        last_name=node.get("lastName") or "",
        phone=phone_number.get("phoneNumber"),
        country_code=address.get("countryCodeV2"),
        updated_at=updated_at,
        tags=[str(t) for t in node.get("tags") or []],
        consent=whatsapp,
        sms=sms,
    )


# ---- Webhooks ----------------------------------------------------------------------------------


def _tags(value: object) -> list[str] | None:
    """API versions up to 2024-10 send tags as one comma-separated string; later ones none."""
    if isinstance(value, str):
        return [t.strip() for t in value.split(",") if t.strip()]
    if isinstance(value, list):
        return [str(t) for t in value]
    return None


def from_webhook(body: dict) -> CustomerRecord:
    """A ``customers/create`` or ``customers/update`` body."""
    updated_at = parse_time(body.get("updated_at"))
    if updated_at is None:
        raise BadPayload("the customer has no updated_at")
    address = body.get("default_address") if isinstance(body.get("default_address"), dict) else {}
    return CustomerRecord(
        shopify_customer_id=customer_id(body.get("id")),
        first_name=body.get("first_name") or "",
        last_name=body.get("last_name") or "",
        phone=body.get("phone"),
        country_code=address.get("country_code"),
        updated_at=updated_at,
        tags=_tags(body.get("tags")),
        sms=_sms_consent(body),
    )


def _sms_consent(body: dict) -> ConsentState | None:
    return _state(body.get("sms_marketing_consent"), SMS, "state", "consent_updated_at")


# Shopify's marketing consent states as its webhooks spell them (lower case) and its GraphQL
# enum does (upper case); anything else is a body we cannot read.
_SHOPIFY_STATES = frozenset(
    {"SUBSCRIBED", "PENDING", "NOT_SUBSCRIBED", "NEVER_SUBSCRIBED", "UNSUBSCRIBED", "INVALID", "REDACTED"}
)
# The consent's time: Shopify's other consent topics name it ``consent_updated_at``, the
# WhatsApp topic and the GraphQL object ``updated_at``/``updatedAt``. Either is read.
_CONSENT_TIMES = ("updated_at", "consent_updated_at")


def _consent_of(body: dict, key: str, source: str) -> ConsentState:
    """The consent object ``key`` of a consent webhook, or BadPayload saying what is wrong."""
    consent = body.get(key)
    if not isinstance(consent, dict) or not isinstance(consent.get("state"), str):
        raise BadPayload(f"the body has no {key} with a state")
    if consent["state"].upper() not in _SHOPIFY_STATES:
        raise BadPayload(f"{key} has state {consent['state']!r}, not one of Shopify's consent states")
    at = next((t for t in (parse_time(consent.get(name)) for name in _CONSENT_TIMES) if t), None)
    return ConsentState(to_consent(consent["state"]), source, at)


def sms_consent_change(body: dict) -> ConsentChange:
    """A ``customers_marketing_consent/update`` body: ``id``, ``phone`` and
    ``sms_marketing_consent`` {state, opt_in_level, consent_updated_at, ...}. Raises
    BadPayload for a body that does not say whose consent or which."""
    state = _consent_of(body, "sms_marketing_consent", SMS)
    return ConsentChange(customer_id(body.get("id")), body.get("phone"), state)


def whatsapp_consent_change(body: dict) -> ConsentChange:
    """A ``customers_whats_app_marketing_consent/update`` body (Shopify's webhook reference):
    ``customer_id``, ``phone_number`` and ``whats_app_marketing_consent`` {state,
    opt_in_level, updated_at (or consent_updated_at), collected_from}. Raises BadPayload for a
    body that does not say whose consent or which."""
    state = _consent_of(body, "whats_app_marketing_consent", WHATSAPP)
    return ConsentChange(customer_id(body.get("customer_id")), body.get("phone_number"), state)
