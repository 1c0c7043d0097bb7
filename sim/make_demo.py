"""Writes ``sim/demo_seed.json``: the demo shop that ``make run`` loads.

Deterministic (fixed random seed), so the committed file only changes when this script does:
``python -m sim.make_demo``. The shop has a few hundred customers across several countries, and
campaigns of every type and status spread over three months, with failures of every category,
including customers whose phone lacks its calling code but whose address country is known.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType

OUT = Path(__file__).with_name("demo_seed.json")
COUNTRIES = ["ES", "GB", "US", "DE", "FR", "BR", "MX", "IN", "IT", "NL"]
FIRST = [
    "Ana",
    "Ben",
    "Chloé",
    "Diego",
    "Emma",
    "Farid",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kofi",
    "Lucía",
    "Mateo",
    "Nora",
    "Omar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sven",
    "Tomás",
]
LAST = [
    "López",
    "Smith",
    "Martin",
    "Müller",
    "Silva",
    "Rossi",
    "Kumar",
    "de Vries",
    "García",
    "Dubois",
    "Jones",
    "Santos",
    "Schmidt",
    "Patel",
    "Moreau",
]
# Meta failure codes by category, so every category appears in the demo.
META_FAILURES = ["131026", "131049", "130472", "131050", "131042", "130429", "132015", "131048", "131000"]
NOW = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def mobile_number(rng: random.Random, country: str) -> phonenumbers.PhoneNumber:
    example = phonenumbers.example_number_for_type(country, PhoneNumberType.MOBILE)
    national = str(example.national_number)
    while True:
        candidate = national[:-4] + f"{rng.randrange(10000):04d}"
        number = phonenumbers.parse("+" + str(example.country_code) + candidate)
        if phonenumbers.is_valid_number(number):
            return number


def customer(rng: random.Random, shopify_id: int) -> dict:
    country = rng.choice(COUNTRIES)
    number = mobile_number(rng, country)
    roll = rng.random()
    if roll < 0.12:  # typed without the country calling code
        phone = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    elif roll < 0.15:
        phone = rng.choice(["12345", "n/a", "+999 123"])
    elif roll < 0.18:
        phone = None
    else:
        phone = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    consent = rng.choices(["SUBSCRIBED", "UNSUBSCRIBED", "NOT_SUBSCRIBED", "PENDING"], [85, 6, 6, 3])[0]
    return {
        "shopify_id": shopify_id,
        "first_name": rng.choice(FIRST),
        "last_name": rng.choice(LAST),
        "phone": phone,
        "country_code": country,
        "consent": consent,
        "tags": rng.sample(["vip", "newsletter", "wholesale", "returning", "spain"], rng.randrange(3)),
    }


def pre_send_failure(c: dict) -> str | None:
    from core.rules.phones import check_phone  # the same rules the dispatcher applies

    problem = check_phone(c["phone"]).problem
    return str(problem) if problem else None


def outcome(rng: random.Random, mix: dict[str, float]) -> str:
    return rng.choices(list(mix), list(mix.values()))[0]


def messages_for(
    rng: random.Random,
    customers: list[dict],
    name: str,
    mix: dict[str, float],
    start: datetime,
    *,
    allow_our_failures: bool = True,
) -> list[dict]:
    rows = []
    for n, c in enumerate(customers):
        problem = pre_send_failure(c)
        if problem and not allow_our_failures:
            continue
        if problem:
            rows.append({"customer": c["shopify_id"], "status": "failed", "error_code": problem})
            continue
        status = outcome(rng, mix)
        row = {"customer": c["shopify_id"], "wamid": f"wamid.demo-{name}-{n}", "status": status}
        if status == "failed":
            row["error_code"] = rng.choice(META_FAILURES)
        row["sent_at"] = (start + timedelta(seconds=n // 40)).isoformat()
        rows.append(row)
    return rows


def campaigns(rng: random.Random, customers: list[dict]) -> list[dict]:
    subscribed = [c for c in customers if c["consent"] == "SUBSCRIBED"]
    marketing = {"name": "weekly_offer", "language": "en", "category": "MARKETING"}
    utility = {"name": "order_update", "language": "en", "category": "UTILITY"}
    catalog = {"name": "new_arrivals_catalog", "language": "en", "category": "MARKETING", "format": "CATALOG"}
    good = {"read": 0.55, "delivered": 0.35, "sent": 0.10}
    mixed = {"read": 0.40, "delivered": 0.30, "sent": 0.05, "failed": 0.25}
    plan = [
        ("Black Friday preview", "PROMOTIONAL", "PARTIALLY_SENT", marketing, mixed, 85),
        ("Order delays notice", "INFORMATIONAL", "PARTIALLY_SENT", utility, mixed, 75),
        ("Autumn catalog", "CATALOG", "PARTIALLY_SENT", catalog, mixed, 62),
        ("Loyalty points reminder", "INFORMATIONAL", "PARTIALLY_SENT", utility, mixed, 48),
        ("Flash sale 24h", "PROMOTIONAL", "PARTIALLY_SENT", marketing, mixed, 33),
        ("Winter catalog", "CATALOG", "PARTIALLY_SENT", catalog, mixed, 20),
        (
            "Cyber Monday",
            "PROMOTIONAL",
            "PENDING",
            marketing,
            {"accepted": 0.3, "sent": 0.3, "delivered": 0.2, "read": 0.15, "failed": 0.05},
            0,
        ),
    ]
    out = []
    for name, kind, status, template, mix, days_ago in plan:
        start = NOW - timedelta(days=days_ago)
        out.append(
            {
                "name": name,
                "type": kind,
                "status": status,
                "template": template,
                "estimated_audience": len(subscribed),
                "created_at": start.isoformat(),
                "dispatch_finished": status != "PENDING",
                "messages": messages_for(rng, subscribed, name.lower().replace(" ", "-"), mix, start),
            }
        )
    out += settled_examples(rng, subscribed, marketing, utility, catalog, good)
    out += [
        {
            "name": "Spring teaser",
            "type": "PROMOTIONAL",
            "status": "DRAFT",
            "template": marketing,
            "audience": {"include_tags": ["vip"], "exclude_tags": ["wholesale"]},
        },
        {"name": "Restock alerts", "type": "CATALOG", "status": "DRAFT", "template": catalog},
        {
            # A tracked link: the template's button is the app's /r/{{1}} (sim/meta/config.py).
            "name": "Spring edit (tracked link)",
            "type": "PROMOTIONAL",
            "status": "DRAFT",
            "template": {"name": "tracked_offer", "language": "en", "category": "MARKETING"},
            "audience": {"include_tags": ["vip"], "exclude_tags": ["wholesale"]},
            "components": [
                {"type": "body", "parameters": [{"field": "first_name", "fallback": "there"}]},
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"track": "https://demo.myshopify.com/collections/spring"}],
                },
            ],
        },
        {
            "name": "New year greetings",
            "type": "INFORMATIONAL",
            "status": "SCHEDULED",
            "template": utility,
            "scheduled_in_days": 7,
        },
        {
            "name": "Summer clearance (cancelled)",
            "type": "PROMOTIONAL",
            "status": "CANCELLED",
            "template": marketing,
            "created_at": (NOW - timedelta(days=70)).isoformat(),
        },
    ]
    return out


def settled_examples(rng, subscribed, marketing, utility, catalog, good) -> list[dict]:
    """A campaign that fully succeeded, one that fully failed, and one with expiries."""
    reachable = [c for c in subscribed if pre_send_failure(c) is None]
    sent_ok = messages_for(
        rng,
        reachable[:60],
        "vip-thanks",
        good | {"sent": 0.0},
        NOW - timedelta(days=55),
        allow_our_failures=False,
    )
    for row in sent_ok:
        if row["status"] == "sent":
            row["status"] = "delivered"
    failed = [
        {
            "customer": c["shopify_id"],
            "status": "failed",
            "error_code": "132001" if i % 5 else "INSUFFICIENT_CREDITS",
        }
        for i, c in enumerate(reachable[:40])
    ]
    expiring = messages_for(
        rng,
        reachable[:80],
        "catalog-expiry",
        {"read": 0.5, "delivered": 0.2, "expired": 0.3},
        NOW - timedelta(days=40),
        allow_our_failures=False,
    )
    return [
        {
            "name": "VIP thank-you",
            "type": "INFORMATIONAL",
            "status": "SENT",
            "template": utility,
            "estimated_audience": 60,
            "created_at": (NOW - timedelta(days=55)).isoformat(),
            "messages": sent_ok,
        },
        {
            "name": "Broken template test",
            "type": "PROMOTIONAL",
            "status": "FAILED",
            "template": marketing,
            "estimated_audience": 40,
            "created_at": (NOW - timedelta(days=27)).isoformat(),
            "messages": failed,
        },
        {
            "name": "Summer catalog",
            "type": "CATALOG",
            "status": "PARTIALLY_SENT",
            "template": catalog,
            "estimated_audience": 80,
            "created_at": (NOW - timedelta(days=40)).isoformat(),
            "messages": expiring,
        },
    ]


def build() -> dict:
    rng = random.Random(20261127)
    customers = [customer(rng, 7_000_000_000 + n) for n in range(1, 321)]
    # A few customers who withdrew consent after a campaign was planned (consent failures).
    late_optouts = [
        {"customer": c["shopify_id"], "status": "failed", "error_code": "CUSTOMER_IS_NOT_OPTED_IN"}
        for c in customers
        if c["consent"] == "UNSUBSCRIBED"
    ][:8]
    shop_campaigns = campaigns(rng, customers)
    shop_campaigns[0]["messages"] += late_optouts
    return {
        "shops": [
            {
                "domain": "demo.myshopify.com",
                "credits": 50_000,
                "timezone": "Europe/Madrid",
                "locale": "en",
                "meta_phone_number_id": "1234567890",
                "meta_waba_id": "5550001",
                "meta_access_token": "demo-meta-access-token",
                "customers": customers,
                "campaigns": shop_campaigns,
            }
        ]
    }


if __name__ == "__main__":
    OUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
