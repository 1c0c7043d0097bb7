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


def _mobile(rng: random.Random, country: str) -> phonenumbers.PhoneNumber:
    """A valid mobile number of ``country``: Shopify's example number with its tail varied."""
    example = phonenumbers.example_number_for_type(country, PhoneNumberType.MOBILE)
    for _ in range(50):
        digits = str(example.national_number)
        tail = "".join(rng.choice("0123456789") for _ in range(4))
        candidate = phonenumbers.parse(f"+{example.country_code}{digits[:-4]}{tail}", None)
        if phonenumbers.is_valid_number(candidate):
            return candidate
    return example


def _phone(rng: random.Random, country: str) -> str | None:
    """Mostly E.164; some typed without the calling code (the fixable failure); a few none."""
    roll = rng.random()
    if roll < 0.05:
        return None
    number = _mobile(rng, country)
    if roll < 0.20:
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


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


def from_seed(entry: dict, n: int) -> dict:
    """A customer of a seed document (the app's seed format, CONTRACT.md)."""
    stamp = iso(EPOCH + timedelta(minutes=n))
    consent = entry.get("consent") or "NOT_SUBSCRIBED"
    consent = {"state": consent, "updated_at": stamp} if consent != "UNKNOWN" else None
    first, last = entry.get("first_name") or "", entry.get("last_name") or ""
    return {
        "id": int(entry["shopify_id"]),
        "first_name": first,
        "last_name": last,
        "email": entry.get("email") or f"customer{entry['shopify_id']}@example.com",
        "phone": entry.get("phone"),
        "country": entry.get("country_code"),
        "tags": list(entry.get("tags") or []),
        "sms": consent,
        "whatsapp": dict(consent) if consent else None,
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


def _consent_node(consent: dict | None) -> dict | None:
    if consent is None:
        return None
    return {"marketingState": consent["state"], "consentUpdatedAt": consent["updated_at"]}


def graphql_node(customer: dict) -> dict:
    """The customer as GraphQL resolves it (the default resolver reads these keys)."""
    phone, country = customer["phone"], customer["country"]
    sms = _consent_node(customer["sms"])
    name = f"{customer['first_name']} {customer['last_name']}".strip()
    return {
        "id": gid(customer["id"]),
        "legacyResourceId": str(customer["id"]),
        "firstName": customer["first_name"] or None,
        "lastName": customer["last_name"] or None,
        "displayName": name or customer["email"],
        "email": customer["email"],
        "phone": phone,
        "defaultPhoneNumber": None
        if phone is None
        else {
            "phoneNumber": phone,
            "marketingState": (sms or {}).get("marketingState", "NOT_SUBSCRIBED"),
            "whatsAppMarketingConsent": _consent_node(customer["whatsapp"]),
        },
        "defaultAddress": None
        if country is None
        else {"countryCodeV2": country, "country": COUNTRY_NAMES.get(country, country), "phone": None},
        "tags": list(customer["tags"]),
        "createdAt": customer["created_at"],
        "updatedAt": customer["updated_at"],
        "smsMarketingConsent": sms,
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


def consent_body(customer: dict) -> dict:
    """The ``customers/marketing_consent_update`` body (SMS), with the WhatsApp consent when
    the customer has one (the topic that carries it is not confirmed; see the app's drain)."""
    body = {
        "id": customer["id"],
        "phone": customer["phone"],
        "sms_marketing_consent": _rest_consent(customer["sms"]),
    }
    if customer["whatsapp"] is not None:
        body["whatsapp_marketing_consent"] = _rest_consent(customer["whatsapp"])
    return body


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
