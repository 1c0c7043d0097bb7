"""Webhook events that cannot be applied, or not in time: one shop's body the database refuses
and another shop's that outlasts the statement timeout are queued before everyone else's.
Every other shop's events apply at once, each exactly once; the two at fault are tried again
further and further apart, set aside as failed while their causes last, and apply when an
operator replays them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.inbox.store import MAX_ATTEMPTS
from core.models import InboxEvent, ShopifyWebhookDelivery
from tests import test_shopify_drain_isolation as isolation
from tests.shopify_webhooks import customer_body, post

statement_timeout = isolation.statement_timeout  # the fixtures, shared
poison_customer = isolation.poison_customer

POISON, SLOW = "poison.myshopify.com", "slow.myshopify.com"
HEALTHY = [f"shop-{n}.myshopify.com" for n in range(3)]
PER_SHOP = 10


def _id(shop_index: int, n: int) -> int:
    """Shopify's customer ids are unique across shops, so their bodies never share bytes."""
    return 1000 * (shop_index + 1) + n


def _rows(make) -> list[InboxEvent]:
    with Session(make.engine) as session:
        return list(session.scalars(select(InboxEvent).order_by(InboxEvent.id)))


def _by_shop(rows: list[InboxEvent]) -> dict[str, list[InboxEvent]]:
    shops: dict[str, list[InboxEvent]] = {}
    for row in rows:
        shops.setdefault(row.headers["X-Shopify-Shop-Domain"], []).append(row)
    return shops


def test_a_failing_or_slow_event_never_blocks_other_shops(
    client, make, run_jobs, runner, statement_timeout, poison_customer
):
    """A refused body and a slow one, first in the queue, never hold up the other shops: their
    events all apply in the first drain, once each; the two at fault are set aside as failed
    after their attempts and apply when replayed once their causes are gone."""
    statement_timeout(1)
    poisoned, slow = make.shop(POISON), make.shop(SLOW)
    healthy = [make.shop(domain) for domain in HEALTHY]
    poison_body = customer_body(isolation.POISON_CUSTOMER, updated_at=isolation.JAN)
    post(client, "customers/update", poison_body, shop=POISON)
    post(client, "customers/update", customer_body(1, updated_at=isolation.JAN), shop=SLOW)
    for n in range(PER_SHOP):
        for k, domain in enumerate(HEALTHY):
            post(client, "customers/update", customer_body(_id(k, n), updated_at=isolation.JAN), shop=domain)

    with isolation.customer_writes_held(make.engine, slow):
        isolation.drain(run_jobs)
        for k, shop in enumerate(healthy):
            assert isolation.customer_ids(make.engine, shop) == {_id(k, n) for n in range(PER_SHOP)}
        by_shop = _by_shop(_rows(make))
        for domain in HEALTHY:
            assert [(r.outcome, r.attempts) for r in by_shop[domain]] == [("applied", 1)] * PER_SHOP
        for domain in (POISON, SLOW):
            (row,) = by_shop[domain]
            assert (row.processed_at, row.attempts) == (None, 1) and row.last_error
        for _ in range(MAX_ATTEMPTS - 1):  # the import runs on: both keep failing, apart
            isolation.time_passes(make.engine)
            isolation.drain(run_jobs)

    by_shop = _by_shop(_rows(make))
    assert [(r.outcome, r.attempts) for r in by_shop[POISON]] == [("failed", MAX_ATTEMPTS)]
    assert [(r.outcome, r.attempts) for r in by_shop[SLOW]] == [("failed", MAX_ATTEMPTS)]
    assert isolation.customer_ids(make.engine, slow) == set() == isolation.customer_ids(make.engine, poisoned)

    poison_customer()  # the causes are gone: the import is over, the refusal lifted
    failed = [row.id for row in (*by_shop[POISON], *by_shop[SLOW])]
    assert runner.invoke(args=["inbox", "replay", *map(str, failed)]).exit_code == 0
    run_jobs()
    assert isolation.customer_ids(make.engine, poisoned) == {isolation.POISON_CUSTOMER}
    assert isolation.customer_ids(make.engine, slow) == {1}
    rows = _rows(make)
    assert {r.outcome for r in rows} == {"applied"} and all(r.processed_at for r in rows)
    with Session(make.engine) as session:  # every delivery applied once: one ledger entry each
        assert session.scalar(select(func.count()).select_from(ShopifyWebhookDelivery)) == len(rows)
    assert client.get("/health").get_json()["inbox"]["shopify"]["oldest_unprocessed_s"] == 0
