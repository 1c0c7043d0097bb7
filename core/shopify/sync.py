"""The full import of a shop's customers through the GraphQL connection.

Pages of 100: a node costs about 5 points here (the customer and four objects), so a page is
priced near 500, under Shopify's 1,000-point ceiling for a single query, and the client's
pacing keeps a Standard plan's bucket (100 points a second) from refusing us. Each page is
written in its own transaction with the same conditional upsert as the webhooks, so an import
that started before a webhook can never overwrite what the webhook brought.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import update

from core.db import session_scope
from core.models import Shop
from core.shopify.admin import AdminClient
from core.shopify.customers import lock_customers, upsert_profiles
from core.shopify.shapes import BadPayload, from_graphql

PAGE_SIZE = 100

CUSTOMERS_QUERY = """
query CustomersForSync($first: Int!, $after: String) {
  customers(first: $first, after: $after, sortKey: ID) {
    pageInfo { hasNextPage endCursor }
    nodes {
      id
      firstName
      lastName
      phone
      defaultPhoneNumber {
        phoneNumber
        whatsAppMarketingConsent { marketingState consentUpdatedAt }
      }
      defaultAddress { countryCodeV2 }
      tags
      updatedAt
      smsMarketingConsent { marketingState consentUpdatedAt }
    }
  }
}
"""

SHOP_QUERY = "query ShopForSync { shop { ianaTimezone currencyCode } }"


@dataclass(frozen=True)
class PageResult:
    next_cursor: str | None  # None: that was the last page
    customers: int
    written: int
    skipped: int  # nodes we could not read (no id or no updatedAt)


def import_page(
    client: AdminClient, shop_id: int, cursor: str | None, page_size: int = PAGE_SIZE
) -> PageResult:
    data = client.query(CUSTOMERS_QUERY, {"first": page_size, "after": cursor})
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
    shop = client.query(SHOP_QUERY).get("shop") or {}
    values = {
        k: v for k, v in (("timezone", shop.get("ianaTimezone")), ("currency", shop.get("currencyCode"))) if v
    }
    if values:
        with session_scope() as session:
            session.execute(update(Shop).where(Shop.id == shop_id).values(**values))


def mark_synced(shop_id: int) -> None:
    with session_scope() as session:
        session.execute(update(Shop).where(Shop.id == shop_id).values(customers_synced_at=datetime.now(UTC)))
