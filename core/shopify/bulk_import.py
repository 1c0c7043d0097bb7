"""The import of a large shop's customers through a bulk operation.

Paging a hundred thousand customers is over a thousand throttled requests; a bulk export is
one: ``bulkOperationRunQuery`` starts it, Shopify runs it on its side, and when its status is
COMPLETED its ``url`` holds one JSON line per customer (``groupObjects: false``: our lines have
no children). We learn it finished from the ``bulk_operations/finish`` webhook or, when that is
missed, by polling ``bulkOperation(id:)``. The file is streamed (never held whole) and written
in batches with the same conditional upsert as every other source (core/shopify/customers.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import requests
from sqlalchemy import column, exists, select, table, update
from sqlalchemy.dialects.postgresql import insert

from core.bulk import staged
from core.db import session_scope
from core.models import Customer, CustomerTombstone, Shop
from core.shopify.admin import AdminClient, ShopifyError
from core.shopify.customers import (
    CustomerRecord,
    lock_customers,
    newest_records,
    profile_row,
    upsert_profiles,
    upsert_statement,
)
from core.shopify.queries import BULK_CUSTOMERS, BULK_OPERATION, BULK_RUN_QUERY
from core.shopify.shapes import BadPayload, from_graphql, parse_time

BATCH = 2000  # customers per upsert statement
DOWNLOAD_TIMEOUT = (10, 300)  # connect, read (a slow stream must not hang the job)
RUNNING = ("CREATED", "RUNNING", "CANCELING")


@dataclass(frozen=True)
class ExportState:
    status: str  # Shopify's BulkOperationStatus
    url: str | None
    error_code: str | None
    objects: int
    created_at: datetime | None = None

    @property
    def running(self) -> bool:
        return self.status in RUNNING


@dataclass(frozen=True)
class IngestResult:
    customers: int
    written: int
    skipped: int


def start_export(client: AdminClient, shop_id: int) -> str:
    """Start the bulk export of the shop's customers and remember it; return its id."""
    result = client.mutate(
        BULK_RUN_QUERY, {"query": BULK_CUSTOMERS}, "bulkOperationRunQuery", idempotent=False
    )
    operation = (result.get("bulkOperation") or {}).get("id")
    if not operation:
        raise ShopifyError("bulkOperationRunQuery answered no operation")
    with session_scope() as session:
        session.execute(update(Shop).where(Shop.id == shop_id).values(customers_bulk_operation_id=operation))
    return operation


def export_state(client: AdminClient, operation: str) -> ExportState:
    node = client.query(BULK_OPERATION, {"id": operation}).get("bulkOperation")
    if node is None:
        return ExportState("MISSING", None, None, 0)
    objects = int(node.get("objectCount") or 0)
    created = parse_time(node.get("createdAt"))
    return ExportState(node["status"], node.get("url"), node.get("errorCode"), objects, created)


def forget_export(shop_id: int, operation: str) -> None:
    with session_scope() as session:
        session.execute(
            update(Shop)
            .where(Shop.id == shop_id, Shop.customers_bulk_operation_id == operation)
            .values(customers_bulk_operation_id=None)
        )


def ingest(shop_id: int, url: str | None, http: requests.Session | None = None) -> IngestResult:
    """Stream the export's JSON lines into the shop's customers, BATCH at a time. A completed
    export of a shop without customers has no file (``url`` null).

    Reading and parsing a batch overlaps with writing the one before (a second thread waits on
    PostgreSQL while this one parses): the two take about as long as each other."""
    customers = written = skipped = 0
    if url is None:
        return IngestResult(0, 0, 0)
    http = http or requests.Session()
    with (
        http.get(url, stream=True, timeout=DOWNLOAD_TIMEOUT) as response,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="bulk-import-writer") as writer,
    ):
        response.raise_for_status()
        pending: Future | None = None
        for batch, bad in _batches(response.iter_lines(chunk_size=1 << 16)):
            customers, skipped = customers + len(batch), skipped + bad
            written += pending.result() if pending else 0
            pending = writer.submit(_write, shop_id, batch)
        written += pending.result() if pending else 0
    return IngestResult(customers, written, skipped)


def _batches(lines: Iterator[bytes]) -> Iterator[tuple[list[CustomerRecord], int]]:
    batch, bad = [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            batch.append(from_graphql(json.loads(line)))
        except (ValueError, BadPayload):
            bad += 1  # one unreadable line must not lose the rest of the shop
        if len(batch) >= BATCH:
            yield batch, bad
            batch, bad = [], 0
    if batch or bad:
        yield batch, bad


def _write(shop_id: int, records: list[CustomerRecord]) -> int:
    """Upsert a batch: the customers with both consents (nearly all) are copied into a
    temporary table and upserted from it in one statement with the module's rules; the few
    without a phone (no consent to read) go the ordinary way."""
    full = [r for r in records if r.consent is not None and r.sms is not None and r.tags is not None]
    rest = [r for r in records if not (r.consent is not None and r.sms is not None and r.tags is not None)]
    with session_scope() as session:
        lock_customers(session, shop_id)
        written = upsert_profiles(session, shop_id, rest) if rest else 0
        return written + (_copy_upsert(session, shop_id, full) if full else 0)


_COLUMNS = (
    ("shop_id", "bigint"),
    ("shopify_customer_id", "bigint"),
    ("first_name", "text"),
    ("last_name", "text"),
    ("phone", "text"),
    ("phone_e164", "text"),
    ("country_code", "text"),
    ("shopify_updated_at", "timestamptz"),
    ("tags", "text[]"),
    ("consent", "text"),
    ("consent_source", "text"),
    ("consent_updated_at", "timestamptz"),
    ("sms_consent", "text"),
    ("sms_consent_updated_at", "timestamptz"),
)


def _copy_upsert(session, shop_id: int, records: list[CustomerRecord]) -> int:
    names = [name for name, _ in _COLUMNS]
    rows = (
        [row[name] for name in names] for row in (profile_row(shop_id, r) for r in newest_records(records))
    )
    with staged(session, "customer_batch", _COLUMNS, rows) as staging:
        batch = table(staging, *(column(name) for name in names))
        gone = select(CustomerTombstone.shopify_customer_id).where(
            CustomerTombstone.shop_id == shop_id,
            CustomerTombstone.shopify_customer_id == batch.c.shopify_customer_id,
        )
        chosen = select(*(batch.c[name] for name in names)).where(~exists(gone))
        statement = insert(Customer.__table__).from_select(names, chosen)
        statement = upsert_statement(statement, True, True, True)
        return len(session.execute(statement.returning(Customer.__table__.c.id)).all())
