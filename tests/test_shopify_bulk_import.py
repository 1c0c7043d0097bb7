"""A large shop's import through a bulk operation against the stand-in, and the periodic
incremental re-sync of customers updated since the last sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.models import Customer, Shop
from core.redis import get_redis
from jobs.customer_import import import_bulk_export, resync_customers, sync_customers
from tests.shopify_stand_in import installed_shop
from tests.shopify_webhooks import SHOP, post
from tests.waiting import wait_for


def _customers(make, shop) -> dict[int, Customer]:
    with Session(make.engine) as session:
        rows = session.scalars(select(Customer).where(Customer.shop_id == shop.id)).all()
        return {c.shopify_customer_id: c for c in rows}


def _shop(make, shop) -> Shop:
    with Session(make.engine) as session:
        return session.get(Shop, shop.id)


def _poll_until_imported(shop_id: int) -> dict:
    def finished():
        result = import_bulk_export(shop_id)
        return result if result["status"] not in ("created", "running") else None

    return wait_for(finished, 60, "the bulk export to finish", every_s=0.1)


def test_a_large_shop_imports_through_a_bulk_export(shopify, make):
    """2,500 customers: the import starts a bulk export instead of paging, polling finds it
    COMPLETED, the JSONL is streamed in, every customer arrives with both consents, and the
    shop is marked synced with the export's start as the next re-sync's start."""
    shopify.configure(customers=2500)
    shop = installed_shop(make, shopify, SHOP)
    started = sync_customers(shop.id)
    assert started["status"] == "bulk" and started["operation"].startswith("gid://shopify/BulkOperation/")
    assert _shop(make, shop).customers_bulk_operation_id == started["operation"]
    result = _poll_until_imported(shop.id)
    assert result["status"] == "done" and result["customers"] == 2500 and result["skipped"] == 0
    served = {c["id"]: c for c in shopify.customers(SHOP)}
    ours = _customers(make, shop)
    assert sorted(ours) == sorted(served)
    for customer_id, customer in served.items():
        if customer["phone"]:
            assert ours[customer_id].consent == (customer["whatsapp"] or {}).get("state", "NOT_SUBSCRIBED")
            assert ours[customer_id].sms_consent == (customer["sms"] or {}).get("state", "NOT_SUBSCRIBED")
    after = _shop(make, shop)
    assert after.customers_bulk_operation_id is None and after.customers_resync_from is not None
    assert import_bulk_export(shop.id)["status"] == "nothing_to_import"


def test_a_failed_export_falls_back_to_paging(shopify, make, run_jobs):
    """An export Shopify fails (TIMEOUT) is forgotten and the import pages instead: every
    customer arrives, and no second export is started."""
    shopify.configure(customers=2050, bulk_error="TIMEOUT", bucket=4000, restore_rate=4000.0)
    shop = installed_shop(make, shopify, SHOP)
    assert sync_customers(shop.id)["status"] == "bulk"
    assert _poll_until_imported(shop.id) == {"status": "failed", "error_code": "TIMEOUT"}
    assert _shop(make, shop).customers_bulk_operation_id is None
    run_jobs()
    assert len(_customers(make, shop)) == 2050
    assert _shop(make, shop).customers_bulk_operation_id is None


def test_the_finish_webhook_queues_the_import(client, shopify, make, run_jobs):
    """bulk_operations/finish for the export we wait for queues its import through the drain;
    one for another operation is ignored."""
    shopify.configure(customers=2100)
    shop = installed_shop(make, shopify, SHOP)
    operation = sync_customers(shop.id)["operation"]
    wait_for(lambda: _export_done(shopify, operation), 60, "the stand-in to finish the export", every_s=0.1)
    post(client, "bulk_operations/finish", {"admin_graphql_api_id": "gid://shopify/BulkOperation/999"})
    post(client, "bulk_operations/finish", {"admin_graphql_api_id": operation, "status": "completed"})
    run_jobs()
    assert len(_customers(make, shop)) == 2100
    assert _shop(make, shop).customers_bulk_operation_id is None


def _export_done(shopify, operation: str) -> bool:
    number = operation.rsplit("/", 1)[-1]
    return shopify.http.get(f"{shopify.url}/sim/bulk/{number}.jsonl", timeout=10).status_code == 200


def test_the_resync_reads_only_customers_changed_since_the_last_sync(shopify, make, run_jobs):
    """After a full import, a customer changed in Shopify (a missed webhook) is brought in by
    the periodic re-sync, which asks only for customers updated since; a second run changes
    nothing."""
    shopify.configure(customers=30)
    shop = installed_shop(make, shopify, SHOP)
    assert sync_customers(shop.id)["status"] == "done"
    with Session(make.engine) as session, session.begin():
        since = datetime.now(UTC) - timedelta(minutes=1)
        session.execute(update(Shop).where(Shop.id == shop.id).values(customers_resync_from=since))
    changed = shopify.customers(SHOP)[3]["id"]
    shopify.change_customer(SHOP, shopify_id=changed, first_name="Renamed")
    assert resync_customers() == {"shops": 1, "queued": 1}
    before = shopify.stats()["graphql"]
    run_jobs()
    assert _customers(make, shop)[changed].first_name == "Renamed"
    assert shopify.stats()["graphql"] - before == 1  # one page: only the changed customer
    resynced = _shop(make, shop).customers_resync_from
    assert resynced > since


def test_a_resync_reads_the_shops_time_zone_again_once_a_day(shopify, make, run_jobs):
    """A zone changed in Shopify reaches the app within a day: the re-sync reads the shop's
    details again once the last read is a day old (its Redis mark expired), not on every run."""
    shopify.configure(customers=3)
    shop = installed_shop(make, shopify, SHOP)
    assert sync_customers(shop.id)["status"] == "done"
    assert _shop(make, shop).timezone == "Europe/Madrid"  # Shopify's ianaTimezone
    with Session(make.engine) as session, session.begin():
        since = datetime.now(UTC) - timedelta(minutes=1)
        session.execute(
            update(Shop).where(Shop.id == shop.id).values(timezone="UTC", customers_resync_from=since)
        )
    assert resync_customers()["queued"] == 1
    run_jobs()
    assert _shop(make, shop).timezone == "UTC"  # read less than a day ago: not again
    get_redis().delete(f"shop-details-read:{shop.id}")  # a day later
    assert resync_customers()["queued"] == 1
    run_jobs()
    assert _shop(make, shop).timezone == "Europe/Madrid"
