"""The shop's frequency cap: a marketing campaign leaves out customers another marketing
campaign reached (or is about to reach) in the last N hours, in the estimate, the launch check
and the messages it creates; utility campaigns and customers reached earlier are not touched."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Message, Shop
from tests.meta_stand_in import whatsapp_shop
from tests.tokens import bearer

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)


def _customers(make, shop, n: int) -> list:
    return [make.customer(shop, phone=f"+346177{i:05d}", phone_e164=f"+346177{i:05d}") for i in range(n)]


def _earlier(make, shop, customers, *, hours_ago: float, category: str = "MARKETING", queued: bool = False):
    campaign = make.campaign(
        shop, f"Earlier {category} {hours_ago}", status="PENDING", template_category=category
    )
    for customer in customers:
        fields = (
            {"status": "queued"}
            if queued
            else {
                "status": "delivered",
                "wamid": f"wamid.cap-{campaign.id}-{customer.id}",
                "accepted_at": datetime.now(UTC) - timedelta(hours=hours_ago),
            }
        )
        make.message(campaign, customer, phone=customer.phone_e164, **fields)


def _set_cap(client, hours) -> dict:
    answer = client.put("/api/settings/consent", json={"marketing_cap_hours": hours}, headers=bearer())
    assert answer.status_code == 200, answer.json
    return answer.json


def test_the_cap_leaves_out_who_another_marketing_campaign_reached_in_time(client, make, meta, run_jobs):
    shop = whatsapp_shop(make)
    people = _customers(make, shop, 10)
    _earlier(make, shop, people[:3], hours_ago=5)  # inside a 24 h cap
    _earlier(make, shop, people[3:5], hours_ago=30)  # outside it
    _earlier(make, shop, people[5:6], hours_ago=1, category="UTILITY")  # not marketing
    _earlier(make, shop, people[6:7], hours_ago=0, queued=True)  # about to be reached
    assert _set_cap(client, 24) == {"sms_consent_counts": False, "marketing_cap_hours": 24}

    estimate = client.post(
        "/api/audience/estimate", json={"audience": {}, "category": "MARKETING"}, headers=bearer()
    ).json
    assert (estimate["estimated_audience"], estimate["frequency_capped"]) == (6, 4)
    assert any("4 more customers are left out" in w for w in estimate["warnings"])
    capped = estimate["frequency_capped_customers"]  # who the cap leaves out, each linked in Shopify
    assert {c["id"] for c in capped} == {p.id for p in people[:3] + people[6:7]}
    by_id = {p.id: p for p in people}
    for c in capped:
        person = by_id[c["id"]]
        assert c["name"] == person.first_name + (f" {person.last_name}" if person.last_name else "")
        assert c["shopify_admin_url"] == f"shopify://admin/customers/{person.shopify_customer_id}"
    example = ", ".join(c["name"] for c in capped[:3])
    assert any(f"for example {example} and 1 more." in w for w in estimate["warnings"])
    utility = client.post(
        "/api/audience/estimate", json={"audience": {}, "category": "UTILITY"}, headers=bearer()
    )
    assert (utility.json["estimated_audience"], utility.json["frequency_capped"]) == (10, 0)

    created = client.post(
        "/api/campaigns",
        json={"name": "Capped", "template": {"name": "weekly_offer", "language": "en"}},
        headers=bearer(),
    )
    assert created.json["estimated_audience"] == 6
    assert client.post(f"/api/campaigns/{created.json['id']}/launch", headers=bearer()).status_code == 202
    run_jobs()
    with Session(make.engine) as session:
        sent_to = set(
            session.scalars(select(Message.customer_id).where(Message.campaign_id == created.json["id"]))
        )
    assert sent_to == {c.id for c in people[3:6] + people[7:]}


def test_the_cap_is_validated_and_cleared(client, make):
    make.shop("demo.myshopify.com")
    for bad in (0, 721, "24", True, 1.5):
        answer = client.put("/api/settings/consent", json={"marketing_cap_hours": bad}, headers=bearer())
        assert answer.status_code == 400, bad
    _set_cap(client, 48)
    assert _set_cap(client, None)["marketing_cap_hours"] is None
    with Session(make.engine) as session:
        assert session.scalar(select(Shop.marketing_cap_hours)) is None
