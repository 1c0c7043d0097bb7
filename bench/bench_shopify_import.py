"""A large shop's first customer import: 500,000 customers through a bulk operation against the
Shopify stand-in (a real HTTP server, its schema Shopify's 2026-10 Admin schema).

Measured: from the import job starting (it finds a large shop and starts the bulk export) to
every customer upserted, polling the export as the job does; and, apart, the app's own part
(streaming the JSONL and the set-based upserts), which is what the app can make faster: the
export's run time is Shopify's. On a database of its own (dropped at the end); the stand-in is
stopped by its process id.
"""

from __future__ import annotations

import os
import sys
import time

import jwt
import requests
from sqlalchemy import func, select

from bench.figures import Figure
from bench.stack import bench_database, bench_redis_url, free_port, process

CUSTOMERS = int(os.environ.get("BENCH_SHOPIFY_CUSTOMERS", "500000"))
SHOP = "bench-import.myshopify.com"


def run() -> list[Figure]:
    with bench_database() as database_url:
        redis_url = bench_redis_url()
        port = free_port()
        env = dict(
            os.environ,
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            SHOPIFY_ADMIN_URL=f"http://127.0.0.1:{port}",
        )
        command = [sys.executable, "-m", "sim.shopify", "--port", str(port), "--customers", str(CUSTOMERS)]
        with process(command, env, "bench-shopify-stand-in"):
            os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "SHOPIFY_ADMIN_URL")})
            return _measure(f"http://127.0.0.1:{port}")


def _measure(stand_in: str) -> list[Figure]:
    _wait_until_up(stand_in)
    # The stand-in makes the shop's customers on first mention (half a million take a while):
    # not part of the import, and not while the token exchange waits.
    requests.get(f"{stand_in}/sim/shops/{SHOP}/count", timeout=900).raise_for_status()
    shop_id = _installed_shop()
    import jobs.customer_import as shopify_jobs
    from core.shopify import bulk_import

    ingest_seconds = []
    timed_ingest = bulk_import.ingest

    def ingest(*args, **kwargs):
        started = time.monotonic()
        try:
            return timed_ingest(*args, **kwargs)
        finally:
            ingest_seconds.append(time.monotonic() - started)

    shopify_jobs.ingest = ingest
    started = time.monotonic()
    assert shopify_jobs.sync_customers(shop_id)["status"] == "bulk"
    result = _poll(shopify_jobs, shop_id)
    total = time.monotonic() - started
    shopify_jobs.ingest = timed_ingest
    imported = _count(shop_id)
    if imported != CUSTOMERS or result["customers"] != CUSTOMERS:
        raise RuntimeError(f"imported {imported} of {CUSTOMERS} customers")
    return [
        Figure("shopify_bulk_import_500k_customers_s", round(total, 1), "s"),
        Figure("shopify_bulk_ingest_500k_customers_s", round(ingest_seconds[0], 1), "s"),
        Figure("shopify_bulk_ingest_rate", round(CUSTOMERS / ingest_seconds[0]), "customers/s"),
    ]


def _poll(shopify_jobs, shop_id: int) -> dict:
    while True:
        result = shopify_jobs.import_bulk_export(shop_id)
        if result["status"] not in ("created", "running"):
            return result
        time.sleep(0.5)


def _wait_until_up(url: str) -> None:
    for _ in range(200):
        try:
            if requests.get(f"{url}/health", timeout=2).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError("the Shopify stand-in did not start")


def _installed_shop() -> int:
    """The shop with a real offline token of the stand-in, as after the app home's exchange."""
    from core.db import session_scope
    from core.models import Shop
    from core.settings import get_settings
    from core.shopify.oauth import exchange_session_token
    from core.shopify.tokens import store_token
    from web.dev import session_token_claims

    settings = get_settings()
    claims = session_token_claims(settings, SHOP)
    token = exchange_session_token(settings, SHOP, jwt.encode(claims, settings.shopify_api_secret, "HS256"))
    with session_scope() as session:
        shop = Shop(domain=SHOP)
        session.add(shop)
        session.flush()
        store_token(session, shop.id, token)
        return shop.id


def _count(shop_id: int) -> int:
    from core.db import session_scope
    from core.models import Customer

    with session_scope() as session:
        return session.scalar(select(func.count()).where(Customer.shop_id == shop_id))
