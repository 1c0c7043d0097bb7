"""The import of a shop's customers through the GraphQL connection: all of them (a small
shop's first import), or those updated since the last sync (the periodic re-sync; Shopify's
webhooks can be missed). A large shop's first import is a bulk export (bulk_import.py).

Pages of 100: a node costs about 5 points here (the customer and four objects), so a page is
priced near 500, under Shopify's 1,000-point ceiling for a single query, and the client's
pacing keeps a Standard plan's bucket (100 points a second) from refusing us. Each page is
written in its own transaction with the same conditional upsert as the webhooks, so an import
that started before a webhook can never overwrite what the webhook brought.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from core.db import session_scope
from core.models import Shop
from core.shopify.admin import AdminClient
from core.shopify.customers import lock_customers, upsert_profiles
from core.shopify.queries import CUSTOMERS_COUNT, CUSTOMERS_PAGE, SHOP_DETAILS
from core.shopify.shapes import BadPayload, from_graphql

PAGE_SIZE = 100
# From this many customers on, one bulk export beats paging (a page is a throttled request).
BULK_THRESHOLD = 2000
# The incremental re-sync starts this long before the last sync started: Shopify's search
# index and clocks lag a little, and reading a customer twice changes nothing.
RESYNC_OVERLAP = timedelta(minutes=5)


@dataclass(frozen=True)
class PageResult:
    next_cursor: str | None  # None: that was the last page
    customers: int
    written: int
    skipped: int  # nodes we could not read (no id or no updatedAt)


def import_page(
    client: AdminClient,
    shop_id: int,
    cursor: str | None,
    page_size: int = PAGE_SIZE,
    since: datetime | None = None,
) -> PageResult:
    """One page of the shop's customers (only those updated after ``since``, when given)."""
    variables = {"first": page_size, "after": cursor, "query": updated_since(since)}
    data = client.query(CUSTOMERS_PAGE, variables)
    connection = data.get("customers") or {}
    records, skipped = [], 0
    for node in connection.get("nodes") or []:
        try:
            records.append(from_graphql(node))
        except BadPayload:
            skipped += 1
    with session_scope() as session:
        lock_customers(session, shop_id)
        written = upsert_profiles(session, shop_id, records) if records else 0
    page_info = connection.get("pageInfo") or {}
    more = bool(page_info.get("hasNextPage")) and page_info.get("endCursor")
    return PageResult(page_info["endCursor"] if more else None, len(records), written, skipped)


def import_shop_details(client: AdminClient, shop_id: int) -> None:
    """The shop's time zone and currency: the pages show times and amounts in them."""
    shop = client.query(SHOP_DETAILS).get("shop") or {}
    values = {
        k: v for k, v in (("timezone", shop.get("ianaTimezone")), ("currency", shop.get("currencyCode"))) if v
    }
    if values:
        with session_scope() as session:
            session.execute(update(Shop).where(Shop.id == shop_id).values(**values))


def updated_since(since: datetime | None) -> str | None:
    """Shopify's search term for customers updated after ``since`` (with the overlap)."""
    if since is None:
        return None
    moment = (since - RESYNC_OVERLAP).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"updated_at:>'{moment}'"


def large_shop(client: AdminClient) -> bool:
    """Whether the shop has enough customers for a bulk export to be the faster import."""
    count = client.query(CUSTOMERS_COUNT, {"limit": BULK_THRESHOLD}).get("customersCount") or {}
    return int(count.get("count") or 0) >= BULK_THRESHOLD


def mark_synced(shop_id: int, started_at: datetime) -> None:
    """A sync that started at ``started_at`` read every customer: the next re-sync reads only
    those updated since."""
    with session_scope() as session:
        session.execute(
            update(Shop)
            .where(Shop.id == shop_id)
            .values(customers_synced_at=datetime.now(UTC), customers_resync_from=started_at)
        )
