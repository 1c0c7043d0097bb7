"""Vendors misbehaving: Meta answering 500s and dropping connections (the read times out after
Meta took the message), Shopify answering 429s. Each run ends with every number equal to the
vendor's own ground truth, and nothing sent or written twice."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Customer
from tests.browser import serve
from tests.faults.ground_truth import assert_ground_truth, fast_webhooks, recipients, run_until_settled
from tests.meta_stand_in import whatsapp_shop
from tests.shopify_stand_in import installed_shop
from tests.tokens import bearer

COUNT = 60


def test_meta_500s_and_timeouts_end_in_ground_truth(client, app, make, meta, run_jobs):
    """Some sends get Meta's HTTP 500 (131000) twice before they go through, some are taken
    while the answer is lost (a timeout): every recipient is messaged once and every number
    equals the stand-in's truth."""
    shop = whatsapp_shop(make, credits=10_000)
    phones = recipients(make, shop, COUNT)
    rules = [{"to": p, "error": 131000, "http_status": 500, "times": 2} for p in phones[:5]]
    rules += [{"to": p, "disconnect": True} for p in phones[5:9]]
    with serve(app) as app_url:
        fast_webhooks(meta, app_url, rules=rules)
        created = client.post(
            "/api/campaigns",
            json={"name": "Faults", "template": {"name": "weekly_offer", "language": "en"}},
            headers=bearer(),
        ).json
        assert client.post(f"/api/campaigns/{created['id']}/launch", headers=bearer()).status_code == 202
        run_until_settled(make, run_jobs, shop.id, created["id"], meta)
    assert meta.truth()["refused"] == {"131000": 10}
    assert_ground_truth(client, make, shop, created["id"], meta, phones)


def test_shopify_429s_end_in_shopifys_customers(make, shopify, run_jobs):
    """The customer import meets Shopify's 429 (with Retry-After) and a 503 on the way: it waits,
    retries, and ends holding exactly the stand-in's customers, each once."""
    domain = "demo.myshopify.com"
    shopify.put_customers(
        domain,
        [
            {"shopify_id": 8000 + n, "first_name": f"S{n}", "phone": f"+3463{n:07d}", "country_code": "ES"}
            for n in range(40)
        ],
    )
    shop = installed_shop(make, shopify, domain)
    shopify.configure(
        faults=[{"status": 429, "retry_after": 0.2}, {"status": 429}, {"status": 503}, {"status": 429}]
    )
    from jobs.customer_import import request_customer_sync

    request_customer_sync(shop.id)
    run_jobs()
    theirs = {c["id"]: c["phone"] for c in shopify.customers(domain)}
    with Session(make.engine) as session:
        ours = session.execute(
            select(Customer.shopify_customer_id, Customer.phone).where(Customer.shop_id == shop.id)
        ).all()
    assert dict(ours) == theirs and len(ours) == len(theirs) == 40
    assert shopify.configure()["faults"] == []  # every forced answer was met
