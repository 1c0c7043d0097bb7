"""The stand-in's customers: generated from the seed, or read from a seed document, and shown
in Shopify's two shapes (GraphQL nodes, REST webhook bodies).

A customer is kept as a plain dict: ``id``, ``first_name``, ``last_name``, ``email``,
``phone`` (as Shopify would store it, or a national number typed without its calling code),
``country`` (ISO-2 of the default address, or None), ``tags``, ``sms`` and ``whatsapp``
consent (``{"state", "updated_at"}`` or None), ``created_at`` and ``updated_at``.
"""

from __future__ import annotations

import json
import random
import zlib
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

FIRST_NAMES = ["Ana", "Ben", "Chloe", "Diego", "Emma", "Farah", "Hugo", "Ines", "Jon", "Lea", "Omar", "Priya"]
LAST_NAMES = ["Lopez", "Martin", "Schmidt", "Dubois", "Smith", "Rossi", "Silva", "Khan", "Jones", "Novak"]
COUNTRIES = ["ES", "DE", "FR", "GB", "US", "MX", "IN", "BR", "IT"]
COUNTRY_NAMES = {
    "ES": "Spain",
    "DE": "Germany",
    "FR": "France",
    "GB": "United Kingdom",
    "US": "United States",
    "MX": "Mexico",
    "IN": "India",
    "BR": "Brazil",
    "IT": "Italy",
}
CONSENT_STATES = ["SUBSCRIBED"] * 6 + ["NOT_SUBSCRIBED", "PENDING", "UNSUBSCRIBED"]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def now_iso() -> str:
    return iso(datetime.now(UTC).replace(microsecond=0))


@cache
def _example(country: str) -> tuple[str, str]:
    """The country's example mobile number: E.164 digits and its national format."""
    example = phonenumbers.example_number_for_type(country, PhoneNumberType.MOBILE)
    e164 = phonenumbers.format_number(example, PhoneNumberFormat.E164)
    return e164, phonenumbers.format_number(example, PhoneNumberFormat.NATIONAL)


def _with_tail(formatted: str, tail: str) -> str:
    """``formatted`` with its last digits replaced by ``tail`` (spacing kept)."""
    characters, digits = list(formatted), list(tail)
    for index in range(len(characters) - 1, -1, -1):
        if not digits:
            break
        if characters[index].isdigit():
            characters[index] = digits.pop()
    return "".join(characters)


def _phone(rng: random.Random, country: str) -> str | None:
    """Mostly E.164; some typed without the calling code (the fixable failure); a few none.
    A number is the country's example mobile number with its last four digits varied: cheap
    enough for a shop of half a million customers, and valid for every country we generate."""
    roll = rng.random()
    if roll < 0.05:
        return None
    tail = f"{rng.randrange(10_000):04d}"
    e164, national = _example(country)
    return _with_tail(national if roll < 0.20 else e164, tail)


def first_id(domain: str) -> int:
    """Customer ids of a shop: distinct per shop, stable across runs."""
    return 5_000_000_000 + (zlib.crc32(domain.encode()) % 1000) * 1_000_000


def generate(domain: str, seed: int, count: int) -> dict[int, dict]:
    rng = random.Random(f"{seed}:{domain}")
    base = first_id(domain)
    customers = {}
    for n in range(1, count + 1):
        country = rng.choice(COUNTRIES)
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        updated = EPOCH + timedelta(minutes=n)
        state = rng.choice(CONSENT_STATES)
        customers[base + n] = {
            "id": base + n,
            "first_name": first,
            "last_name": last,
            "email": f"{first.lower()}.{last.lower()}.{n}@example.com",
            "phone": _phone(rng, country),
            "country": country if rng.random() > 0.05 else None,
            "tags": rng.sample(["vip", "returning", "wholesale", "newsletter"], rng.randint(0, 2)),
            "sms": {"state": state, "updated_at": iso(updated)},
            "whatsapp": {"state": state, "updated_at": iso(updated)} if rng.random() < 0.5 else None,
            "created_at": iso(EPOCH),
            "updated_at": iso(updated),
        }
    return customers


def _seed_consent(state: str | None, stamp: str) -> dict | None:
    state = state or "NOT_SUBSCRIBED"
    return {"state": state, "updated_at": stamp} if state not in ("UNKNOWN", "NOT_SUBSCRIBED") else None


def from_seed(entry: dict, n: int) -> dict:
    """A customer of a seed document (the app's seed format, CONTRACT.md): ``consent`` is the
    WhatsApp consent; ``sms_consent`` (the stand-in's own addition) the SMS one, the same as
    ``consent`` when not given."""
    stamp = iso(EPOCH + timedelta(minutes=n))
    consent = _seed_consent(entry.get("consent"), stamp)
    sms = _seed_consent(entry["sms_consent"], stamp) if "sms_consent" in entry else consent
    first, last = entry.get("first_name") or "", entry.get("last_name") or ""
    return {
        "id": int(entry["shopify_id"]),
        "first_name": first,
        "last_name": last,
        "email": entry.get("email") or f"customer{entry['shopify_id']}@example.com",
        "phone": entry.get("phone"),
        "country": entry.get("country_code"),
        "tags": list(entry.get("tags") or []),
        "sms": dict(sms) if sms else None,
        "whatsapp": consent,
        "created_at": iso(EPOCH),
        "updated_at": stamp,
    }


def seed_document_customers(path: str | None) -> dict[str, dict[int, dict]]:
    if not path:
        return {}
    document = json.loads(Path(path).read_text())
    return {
        shop["domain"]: {
            c["id"]: c for c in (from_seed(e, n) for n, e in enumerate(shop.get("customers", [])))
        }
        for shop in document.get("shops", [])
    }


def gid(customer_id: int) -> str:
    return f"gid://shopify/Customer/{customer_id}"


# Our seed vocabulary -> Shopify's CustomerMarketingConsentState (2026-10). A customer who never
# said anything is NEVER_SUBSCRIBED; Shopify has no UNKNOWN or INVALID.
_SHOPIFY_STATES = {"SUBSCRIBED", "PENDING", "UNSUBSCRIBED", "REDACTED"}


def shopify_state(state: str | None) -> str:
    return state if state in _SHOPIFY_STATES else "NEVER_SUBSCRIBED"


def _consent_node(consent: dict | None) -> dict:
    """``CustomerWhatsAppMarketingConsent`` / ``CustomerSmsMarketingConsent``: never null on a
    phone number; no date when the customer never gave one."""
    if consent is None:
        return {"state": "NEVER_SUBSCRIBED", "updatedAt": None, "optInLevel": None, "collectedFrom": None}
    return {
        "state": shopify_state(consent["state"]),
        "updatedAt": consent["updated_at"],
        "optInLevel": "SINGLE_OPT_IN",
        "collectedFrom": "OTHER",
    }


def phone_node(customer: dict) -> dict | None:
    """``CustomerPhoneNumber``: where both marketing consents live."""
    if customer["phone"] is None:
        return None
    sms = _consent_node(customer["sms"])
    return {
        "phoneNumber": customer["phone"],
        "marketingState": sms["state"] if sms["state"] != "NEVER_SUBSCRIBED" else "NOT_SUBSCRIBED",
        "marketingUpdatedAt": sms["updatedAt"],
        "smsMarketingConsent": sms,
        "whatsAppMarketingConsent": _consent_node(customer["whatsapp"]),
    }


def graphql_node(customer: dict) -> dict:
    """The customer as GraphQL resolves it (the default resolver reads these keys)."""
    country = customer["country"]
    name = f"{customer['first_name']} {customer['last_name']}".strip()
    return {
        "id": gid(customer["id"]),
        "legacyResourceId": str(customer["id"]),
        "firstName": customer["first_name"] or None,
        "lastName": customer["last_name"] or None,
        "displayName": name or customer["email"],
        "email": customer["email"],
        "phone": customer["phone"],
        "defaultPhoneNumber": phone_node(customer),
        "defaultAddress": None
        if country is None
        else {"countryCodeV2": country, "country": COUNTRY_NAMES.get(country, country), "phone": None},
        "tags": list(customer["tags"]),
        "createdAt": customer["created_at"],
        "updatedAt": customer["updated_at"],
    }


def _address(customer: dict) -> dict | None:
    if customer["country"] is None:
        return None
    return {
        "id": customer["id"] + 1,
        "customer_id": customer["id"],
        "first_name": customer["first_name"],
        "last_name": customer["last_name"],
        "company": None,
        "address1": "1 Main Street",
        "address2": None,
        "city": "Springfield",
        "province": None,
        "country": COUNTRY_NAMES.get(customer["country"], customer["country"]),
        "zip": "00000",
        "phone": None,
        "name": f"{customer['first_name']} {customer['last_name']}".strip(),
        "province_code": None,
        "country_code": customer["country"],
        "country_name": COUNTRY_NAMES.get(customer["country"], customer["country"]),
        "default": True,
    }


def rest_body(customer: dict, api_version: str) -> dict:
    """The ``customers/create`` / ``customers/update`` body. From API 2025-01 on it carries no
    tags and no consent (those come by their own topics); older versions had both."""
    address = _address(customer)
    body = {
        "id": customer["id"],
        "email": customer["email"],
        "created_at": customer["created_at"],
        "updated_at": customer["updated_at"],
        "first_name": customer["first_name"],
        "last_name": customer["last_name"],
        "state": "enabled",
        "note": None,
        "verified_email": True,
        "multipass_identifier": None,
        "tax_exempt": False,
        "phone": customer["phone"],
        "currency": "EUR",
        "tax_exemptions": [],
        "admin_graphql_api_id": gid(customer["id"]),
        "addresses": [address] if address else [],
        "default_address": address,
    }
    if api_version < "2025-01":
        body["tags"] = ", ".join(customer["tags"])
        body["sms_marketing_consent"] = _rest_consent(customer["sms"])
    return body


def _rest_consent(consent: dict | None) -> dict | None:
    if consent is None:
        return None
    return {
        "state": consent["state"].lower(),
        "opt_in_level": "single_opt_in",
        "consent_updated_at": consent["updated_at"],
        "consent_collected_from": "OTHER",
    }


def sms_consent_body(customer: dict) -> dict:
    """The ``customers_marketing_consent/update`` body (SMS consent), as Shopify documents it;
    a customer who never gave one reads ``not_subscribed``, undated."""
    consent = _rest_consent(customer["sms"]) or {
        "state": "not_subscribed",
        "opt_in_level": None,
        "consent_updated_at": None,
        "consent_collected_from": None,
    }
    return {"id": customer["id"], "phone": customer["phone"], "sms_marketing_consent": consent}


def whatsapp_consent_body(customer: dict) -> dict:
    """The ``customers_whats_app_marketing_consent/update`` body, as Shopify documents it:
    ``customer_id``, ``phone_number`` and ``whats_app_marketing_consent`` {state, opt_in_level,
    updated_at, collected_from}."""
    consent = _consent_node(customer["whatsapp"])
    return {
        "customer_id": customer["id"],
        "phone_number": customer["phone"],
        "whats_app_marketing_consent": {
            "state": consent["state"].lower(),
            "opt_in_level": (consent["optInLevel"] or "").lower() or None,
            "updated_at": consent["updatedAt"],
            "collected_from": (consent["collectedFrom"] or "").lower() or None,
        },
    }


def delete_body(customer_id: int) -> dict:
    return {
        "id": customer_id,
        "phone": None,
        "addresses": [],
        "tax_exemptions": [],
        "email_marketing_consent": None,
        "sms_marketing_consent": None,
        "admin_graphql_api_id": gid(customer_id),
    }
