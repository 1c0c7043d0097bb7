"""Shopify customer jobs: the import (paged, or a bulk export for large shops), its periodic
re-sync, and the write-back of consents customers changed inside WhatsApp.

The paged import works through pages for at most SYNC_TIME_BUDGET_S, then hands over to a
follow-up job that starts from its cursor: a shop with a hundred thousand customers is over a
thousand throttled pages, far past any single job's time limit.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

from redis.exceptions import RedisError
from sqlalchemy import select

from core.db import session_scope
from core.models import Shop
from core.redis import get_redis
from core.shopify.admin import AdminClient, ReauthorizationRequired, ShopifyUnavailable
from core.shopify.bulk_import import ExportState, export_state, forget_export, ingest, start_export
from core.shopify.consent_writeback import shops_with_pending, write_back
from core.shopify.sync import import_page, import_shop_details, large_shop, mark_synced
from jobs.queues import DEFAULT, VENDOR_RETRY, enqueue

log = logging.getLogger(__name__)

SYNC_TIME_BUDGET_S = 240
SYNC_JOB_PREFIX = "shopify-customer-sync-"
RESYNC_JOB_PREFIX = "shopify-customer-resync-"
BULK_JOB_PREFIX = "shopify-bulk-import-"
BULK_POLL_FIRST_S, BULK_POLL_MAX_S = 5, 300  # polling backs off: Shopify's exports take minutes
BULK_IMPORT_TIMEOUT_S = 1800


# ---- the customer import -----------------------------------------------------------------------


SHOP_DETAILS_EVERY_S = 24 * 3600


def _shop_details_due(shop_id: int) -> bool:
    """Whether a sync should read the shop's time zone and currency again: at most once a day
    (a merchant who changes the shop's zone in Shopify sees schedules and times in the new one
    within a day, and the six-hourly re-sync asks one query more only once a day). Marks the
    read as done; without Redis it is not due (the install's full import still reads them)."""
    try:
        return bool(get_redis().set(f"shop-details-read:{shop_id}", 1, nx=True, ex=SHOP_DETAILS_EVERY_S))
    except RedisError:
        return False


def request_customer_sync(shop_id: int) -> bool:
    """Queue the full import of the shop's customers unless one is queued or running."""
    job = enqueue(
        DEFAULT,
        sync_customers,
        shop_id,
        job_id=f"{SYNC_JOB_PREFIX}{shop_id}",
        unique=True,
        retry=VENDOR_RETRY,
    )
    return job is not None


def sync_customers(
    shop_id: int,
    cursor: str | None = None,
    part: int = 0,
    since: str | None = None,
    started: str | None = None,
    paged: bool = False,
) -> dict:
    """Import the shop's customers from ``cursor`` (the start: None) for a time budget: all of
    them, or with ``since`` (ISO time) only those updated after it. A large shop's full import
    becomes a bulk export instead, unless ``paged`` (the fallback of a failed export)."""
    started = started or datetime.now(UTC).isoformat()
    pages = customers = written = 0
    clock = time.monotonic()
    try:
        with AdminClient(shop_id) as client:
            if cursor is None and (_shop_details_due(shop_id) or since is None):
                import_shop_details(client, shop_id)
            if cursor is None and since is None and not paged and large_shop(client):
                return _start_bulk_import(client, shop_id)
            while True:
                page = import_page(client, shop_id, cursor, since=_moment(since))
                pages, customers, written = pages + 1, customers + page.customers, written + page.written
                cursor = page.next_cursor
                if cursor is None:
                    mark_synced(shop_id, _moment(started))
                    break
                if time.monotonic() - clock > SYNC_TIME_BUDGET_S:
                    _continue_sync(shop_id, cursor, part + 1, since, started)
                    break
    except ReauthorizationRequired as error:
        # Not retried: nothing changes until the merchant opens the app (which queues it again).
        log.warning("customer import of shop %s stopped: %s", shop_id, error)
        return {"status": "reauthorization_required", "pages": pages}
    log.info(
        "customer import of shop %s part %d: %d pages, %d customers, %d written",
        shop_id,
        part,
        pages,
        customers,
        written,
    )
    return {
        "status": "done" if cursor is None else "continues",
        "pages": pages,
        "customers": customers,
        "written": written,
    }


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _continue_sync(shop_id: int, cursor: str, part: int, since: str | None, started: str) -> None:
    enqueue(
        DEFAULT,
        sync_customers,
        shop_id,
        cursor,
        part,
        since,
        started,
        job_id=f"{SYNC_JOB_PREFIX}{shop_id}-part-{part}",
        unique=True,
        retry=VENDOR_RETRY,
    )


# ---- the bulk import (large shops) ---------------------------------------------------------------


def _start_bulk_import(client: AdminClient, shop_id: int) -> dict:
    operation = start_export(client, shop_id)
    _poll_later(shop_id, 1)
    log.info("customer import of shop %s runs as bulk export %s", shop_id, operation)
    return {"status": "bulk", "operation": operation}


def _poll_later(shop_id: int, attempt: int) -> None:
    delay = min(BULK_POLL_FIRST_S * 2 ** (attempt - 1), BULK_POLL_MAX_S)
    enqueue(
        DEFAULT,
        import_bulk_export,
        shop_id,
        attempt,
        job_id=f"{BULK_JOB_PREFIX}{shop_id}-poll-{attempt}",
        unique=True,
        delay=timedelta(seconds=delay),
        timeout=BULK_IMPORT_TIMEOUT_S,
    )


def request_bulk_import(shop_id: int) -> bool:
    """The ``bulk_operations/finish`` webhook came: import now rather than at the next poll."""
    job = enqueue(
        DEFAULT, import_bulk_export, shop_id, 0, job_id=f"{BULK_JOB_PREFIX}{shop_id}-finished", unique=True
    )
    return job is not None


def import_bulk_export(shop_id: int, attempt: int = 0) -> dict:
    """Check the shop's bulk export; when it is done, stream it in (once: a Redis lock keeps a
    webhook-triggered run and a poll from importing it twice at the same time)."""
    with session_scope() as session:
        shop = session.get(Shop, shop_id)
        operation = shop.customers_bulk_operation_id if shop else None
    if operation is None:
        return {"status": "nothing_to_import"}
    try:
        with AdminClient(shop_id) as client:
            state = export_state(client, operation)
    except ReauthorizationRequired as error:
        log.warning("bulk import of shop %s stopped: %s", shop_id, error)
        return {"status": "reauthorization_required"}
    if state.running:
        if attempt:  # the webhook's run leaves the polling chain as it is
            _poll_later(shop_id, attempt + 1)
        return {"status": state.status.lower(), "objects": state.objects}
    if state.status != "COMPLETED":
        return _bulk_failed(shop_id, operation, state)
    return _ingest_once(shop_id, operation, state)


def _ingest_once(shop_id: int, operation: str, state: ExportState) -> dict:
    lock = get_redis().lock(f"shopify:bulk-import:{shop_id}", timeout=BULK_IMPORT_TIMEOUT_S, blocking=False)
    if not lock.acquire():
        return {"status": "importing_elsewhere"}
    try:
        with session_scope() as session:
            if session.get(Shop, shop_id).customers_bulk_operation_id != operation:
                return {"status": "already_imported"}
        result = ingest(shop_id, state.url)
        forget_export(shop_id, operation)
        # The export read each customer after it was created: the re-sync starts from then.
        mark_synced(shop_id, state.created_at or datetime.now(UTC))
    finally:
        lock.release()
    log.info("bulk import of shop %s: %d customers, %d written", shop_id, result.customers, result.written)
    return {
        "status": "done",
        "customers": result.customers,
        "written": result.written,
        "skipped": result.skipped,
    }


def _bulk_failed(shop_id: int, operation: str, state: ExportState) -> dict:
    """A failed, cancelled or expired export: forget it and import page by page instead."""
    forget_export(shop_id, operation)
    log.warning(
        "bulk export %s of shop %s ended %s (%s): paging instead",
        operation,
        shop_id,
        state.status,
        state.error_code,
    )
    enqueue(
        DEFAULT,
        sync_customers,
        shop_id,
        paged=True,
        job_id=f"{SYNC_JOB_PREFIX}{shop_id}-paged",
        unique=True,
        retry=VENDOR_RETRY,
    )
    return {"status": state.status.lower(), "error_code": state.error_code}


# ---- the periodic re-sync ---------------------------------------------------------------------------


def resync_customers() -> dict:
    """Periodic: for every installed shop imported before, read the customers updated since the
    last sync (webhooks can be missed; Shopify recommends reconciling). Idempotent: one job per
    shop at a time, and reading a customer again writes nothing new."""
    with session_scope() as session:
        shops = session.execute(
            select(Shop.id, Shop.customers_resync_from).where(
                Shop.uninstalled_at.is_(None),
                Shop.customers_resync_from.is_not(None),
                Shop.customers_bulk_operation_id.is_(None),
            )
        ).all()
    queued = 0
    for shop_id, since in shops:
        job = enqueue(
            DEFAULT,
            sync_customers,
            shop_id,
            None,
            0,
            since.isoformat(),
            job_id=f"{RESYNC_JOB_PREFIX}{shop_id}",
            unique=True,
        )
        queued += job is not None
    return {"shops": len(shops), "queued": queued}


# ---- consent write-back -------------------------------------------------------------------------------


def write_back_consents() -> dict:
    """Periodic: tell Shopify about the stops customers gave inside WhatsApp."""
    totals = {"shops": 0, "written": 0, "refused": 0}
    for shop_id in shops_with_pending():
        try:
            with AdminClient(shop_id) as client:
                outcome = write_back(client, shop_id)
        except (ReauthorizationRequired, ShopifyUnavailable) as error:
            log.warning("consent write-back of shop %s waits: %s", shop_id, error)
            continue
        totals["shops"] += 1
        totals["written"] += outcome["written"]
        totals["refused"] += outcome["refused"]
    return totals
