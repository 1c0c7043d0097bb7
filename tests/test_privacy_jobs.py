"""Shop and customer erasure run as their own jobs: the Shopify drain only records the request,
a signed shop/redact erases the shop (and counts as its uninstall) whether or not an
app/uninstalled came first, and an erasure deletes in small chunks, each its own transaction,
so a worker that dies mid-way leaves it to be resumed, never half-applied or applied twice."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.crypto import encrypt_token
from core.models import Campaign, Customer, InboxEvent, Message, Shop
from core.redis import get_redis
from jobs.shopify import drain_shopify_inbox
from tests import meta
from tests.shopify_webhooks import SHOP, customer_body, post
from tests.test_erasure import holders
from tests.tokens import bearer

OTHER = "other.myshopify.com"
NUMBER = "+34612345678"


@pytest.fixture
def shops(make):
    """Two installed shops, each with a customer who got a message of a campaign."""
    found = []
    for domain in (SHOP, OTHER):
        shop = make.shop(domain, access_token_ciphertext=encrypt_token("shpat_x"))
        customer = make.customer(shop, shopify_customer_id=21, phone=NUMBER, phone_e164=NUMBER)
        campaign = make.campaign(shop)
        make.message(campaign, customer, status="delivered", phone=NUMBER, wamid=f"wamid.{domain}")
        make.recount(campaign)
        found.append(shop)
    return found


def _rows(make, model, shop) -> int:
    with Session(make.engine) as session:
        return session.scalar(select(func.count()).select_from(model).where(model.shop_id == shop.id))


def _sent_to(make, phone: str) -> int:
    with Session(make.engine) as session:
        return session.scalar(select(func.count()).select_from(Message).where(Message.phone == phone))


def test_shop_redact_erases_a_shop_never_marked_uninstalled(client, make, run_jobs, shops):
    """A missed app/uninstalled does not keep a shop's data: the signed shop/redact erases the
    shop and every row it owns; the other shop keeps all of its own."""
    first, other = shops
    post(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, first.id) is None and session.get(Shop, other.id) is not None
    for model in (Customer, Campaign, Message):
        assert (_rows(make, model, first), _rows(make, model, other)) == (0, 1)


def test_shop_redact_counts_as_the_uninstall_at_once(client, make, run_jobs, shops):
    """As soon as the drain reads shop/redact the shop is uninstalled (its Shopify token
    forgotten, its API refused); the erasure itself follows in its own job."""
    first, _ = shops
    post(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    drain_shopify_inbox()
    with Session(make.engine) as session:
        shop = session.get(Shop, first.id)
        assert shop.uninstalled_at is not None and shop.access_token_ciphertext is None
    assert client.get("/api/campaigns", headers=bearer(SHOP)).status_code == 403
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, first.id) is None


def test_the_drain_only_records_erasures_and_goes_on_with_other_shops(client, make, run_jobs, shops):
    """The drain applies what a redaction reaches by key (the customer row goes at once) and
    records the rest, going straight on to the next shop's event: the redacted shop's rows,
    and the customer's number in the stored bodies, are erased by a job of their own after."""
    first, other = shops
    redact = {"shop_domain": OTHER, "customer": {"id": 21, "phone": NUMBER}}
    post(client, "customers/redact", redact, shop=OTHER)
    post(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    created = customer_body(31, updated_at="2026-01-15T10:00:00Z", phone="+34699999999")
    post(client, "customers/create", created, shop=OTHER)
    report = drain_shopify_inbox()
    assert report["outcomes"] == {"applied": 3}
    with Session(make.engine) as session:
        ids = set(session.scalars(select(Customer.shopify_customer_id).where(Customer.shop_id == other.id)))
        assert ids == {31}
        assert session.scalar(select(Message.phone).where(Message.shop_id == other.id)) is None
    assert _rows(make, Message, first) == 1 and _rows(make, Customer, first) == 1  # not erased yet
    assert "inbox_events.body" in holders(make.engine, NUMBER)  # the request's own body, for now
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, first.id) is None
    assert holders(make.engine, NUMBER) == []


def test_an_erasure_resumes_where_a_dead_worker_left_it(client, make, run_jobs, monkeypatch):
    """With chunks of two messages, a job that stops after its first chunk (as a killed worker
    would) has committed that chunk only; once Redis has lost the job too, the periodic sweep
    queues it again and it finishes: every message to the number erased once, counts exact."""
    from core.shopify import erasure
    from jobs import privacy

    monkeypatch.setattr(erasure, "CHUNK_ROWS", 2)
    monkeypatch.setattr(privacy, "TIME_BUDGET_S", 0)
    shop = make.shop(SHOP, access_token_ciphertext=encrypt_token("shpat_x"))
    campaign = make.campaign(shop)
    ana = make.customer(shop, shopify_customer_id=21, phone=NUMBER, phone_e164=NUMBER)
    at = datetime.now(UTC)
    make.message(campaign, ana, status="delivered", phone=NUMBER, wamid="wamid.0", delivered_at=at)
    for n in range(1, 7):  # messages of earlier, deleted customer records with the same number
        make.message(campaign, None, status="delivered", phone=NUMBER, wamid=f"wamid.{n}", delivered_at=at)
    kept = make.customer(shop, shopify_customer_id=22, phone="+34699999999")
    make.message(
        campaign, kept, status="delivered", phone="+34699999999", wamid="wamid.kept", delivered_at=at
    )
    make.recount(campaign)
    post(client, "customers/redact", {"shop_domain": SHOP, "customer": {"id": 21, "phone": NUMBER}})
    drain_shopify_inbox()
    get_redis().flushdb()  # the queued job is lost with Redis

    assert _sent_to(make, NUMBER) == 6  # the drain erased the customer's own message only
    privacy.run_privacy_requests(shop.id)  # one step, then the worker dies
    assert _sent_to(make, NUMBER) == 5  # the first chunk (ids 1 and 2) is done, nothing else

    privacy.resume_privacy_requests()
    run_jobs()
    with Session(make.engine) as session:
        phones = session.scalars(select(Message.phone).order_by(Message.id)).all()
    assert phones == [None] * 7 + ["+34699999999"]
    assert meta.counters(make.engine, campaign)["delivered"] == 8
    assert meta.drift(make.engine, campaign) == []
    assert holders(make.engine, "34612345678") == []


def test_a_shop_erasure_takes_only_its_own_changes_out_of_a_shared_meta_body(client, make, run_jobs, shops):
    """A Meta body waiting for its drain holds a status for each shop's number: erasing the
    first shop takes its change out, and the other shop's status is still applied."""
    first, other = shops
    body = meta.envelope(
        [
            meta.change(
                first.meta_phone_number_id, statuses=[meta.status(f"wamid.{SHOP}", "read", 1_760_000_000)]
            ),
            meta.change(
                other.meta_phone_number_id, statuses=[meta.status(f"wamid.{OTHER}", "read", 1_760_000_000)]
            ),
        ]
    )
    meta.post(client, body)
    get_redis().flushdb()  # the Meta drain's job is lost: the body waits
    post(client, "shop/redact", {"shop_id": 1, "shop_domain": SHOP})
    run_jobs()
    with Session(make.engine) as session:
        assert session.get(Shop, first.id) is None
        kept = session.scalar(select(InboxEvent).where(InboxEvent.source == "meta"))
    assert kept.processed_at is None and first.meta_phone_number_id.encode() not in bytes(kept.body)
    assert meta.drain()["events"] == 1
    with Session(make.engine) as session:
        assert session.scalar(select(Message.status).where(Message.shop_id == other.id)) == "read"
