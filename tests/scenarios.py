"""Campaigns with a known mix of outcomes, shared by the API, page and browser tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@dataclass
class Scenario:
    shop: object
    campaign: object
    customers: dict[str, object] = field(default_factory=dict)
    messages: dict[str, object] = field(default_factory=dict)


def mixed_campaign(make, shop, *, name: str = "Autumn sale", status: str = "PARTIALLY_SENT") -> Scenario:
    """Twelve messages: 3 read, 2 delivered, 1 sent, 2 failed at Meta (131026), 1 expired,
    2 missing a calling code (one fixable from the customer's country, one not), 1 no phone."""
    campaign = make.campaign(shop, name, status=status, estimated_audience=14, launched_at=T0)
    scenario = Scenario(shop, campaign)

    def add(key, status, *, first="Ana", last=None, phone="+34612345678", country="ES", **fields):
        customer = make.customer(
            shop, first_name=first, last_name=last or key.title(), phone=phone, country_code=country
        )
        scenario.customers[key] = customer
        scenario.messages[key] = make.message(campaign, customer, status=status, phone=phone, **fields)

    sent = {"sent_at": T0}
    for n in range(3):
        add(
            f"reader{n}",
            "read",
            wamid=f"wamid.r{n}",
            **sent,
            delivered_at=T0 + timedelta(seconds=20 + n),
            read_at=T0 + timedelta(minutes=30 + n),
        )
    for n in range(2):
        add(
            f"deliveree{n}", "delivered", wamid=f"wamid.d{n}", **sent, delivered_at=T0 + timedelta(seconds=40)
        )
    add("inflight", "sent", wamid="wamid.s0", **sent)
    for n in range(2):
        add(
            f"notwhatsapp{n}",
            "failed",
            wamid=f"wamid.f{n}",
            **sent,
            failed_at=T0 + timedelta(minutes=1),
            error_code="131026",
            phone=f"+3461234000{n}",
        )
    add("expired", "expired", wamid="wamid.x0", **sent, expired_at=T0 + timedelta(days=30))
    add(
        "lopez",
        "failed",
        first="Lucía",
        last="Lopez",
        phone="612 34 56 79",
        country="ES",
        error_code="CUSTOMER_IS_MISSING_CALLING_CODE",
        failed_at=T0,
    )
    add(
        "nocountry",
        "failed",
        first="Noor",
        last="Nocountry",
        phone="612 34 56 70",
        country=None,
        error_code="CUSTOMER_IS_MISSING_CALLING_CODE",
        failed_at=T0,
    )
    add("nophone", "failed", phone=None, error_code="CUSTOMER_HAS_NO_PHONE", failed_at=T0)
    make.recount(campaign)
    return scenario
