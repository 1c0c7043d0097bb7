"""CSV export of a campaign's messages: exactly the rows of the filtered list, streamed.

A campaign can hold a million messages, so the file is never built in memory: rows are read in
keyset batches, each in its own short transaction (no cursor held open while a slow client
downloads), and written out batch by batch. Times are in the shop's time zone, with the offset.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from core.db import session_factory
from core.message_list import MessageFilter, MessageView, message_query
from core.models import Customer, Message

BATCH_ROWS = 5000

HEADER = (
    "message_id",
    "wamid",
    "status",
    "customer_shopify_id",
    "customer_name",
    "customer_phone",
    "phone_sent_to",
    "error_code",
    "error_category",
    "error_title",
    "error_details",
    "remedy",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "customer_admin_url",
    "suggested_phone",
)

# A spreadsheet runs a cell that starts with one of these as a formula. A phone number such as
# "+34 612 345 678" is harmless (and must stay intact); anything else gets a leading quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PHONE_LIKE = re.compile(r"^[+-]?[\d\s().-]*$")


def safe_cell(value: object) -> object:
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    if value[0] in "+-" and _PHONE_LIKE.match(value):
        return value
    return "'" + value


def _time(value: datetime | None, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat() if value else ""


def csv_row(view: MessageView, zone: ZoneInfo) -> list:
    m, customer, error, fix = view.message, view.customer, view.error() or {}, view.fix() or {}
    cells = [
        m.id,
        m.wamid or "",
        m.status,
        customer.shopify_customer_id if customer else "",
        customer.name if customer else "",
        (customer.phone or "") if customer else "",
        m.phone or "",
        error.get("code", ""),
        error.get("category", ""),
        error.get("title", ""),
        error.get("details") or "",
        error.get("remedy", ""),
        _time(m.sent_at, zone),
        _time(m.delivered_at, zone),
        _time(m.read_at, zone),
        _time(m.failed_at or m.expired_at, zone),
        fix.get("admin_url", ""),
        fix.get("suggested_phone") or "",
    ]
    return [safe_cell(cell) for cell in cells]


def stream_csv(
    shop_id: int, campaign_id: int, filters: MessageFilter, zone: ZoneInfo, *, batch: int = BATCH_ROWS
) -> Iterator[str]:
    """Yield the CSV text chunk by chunk, header first, one chunk per batch of rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    yield _drain(buffer)
    after_id = None
    while True:
        with session_factory()() as session:
            query = message_query(shop_id, campaign_id, filters, after_id=after_id, limit=batch)
            rows = session.execute(query.with_only_columns(*_COLUMNS)).all()
        for row in rows:
            writer.writerow(csv_row(_view(row), zone))
        if rows:
            yield _drain(buffer)
            after_id = rows[-1].id
        if len(rows) < batch:
            return


# Plain columns, not ORM objects: building two mapped objects per row would cost a million
# objects per million rows; the view reads the same attribute names from a plain namespace.
_MESSAGE_FIELDS = (
    "id",
    "wamid",
    "status",
    "phone",
    "error_code",
    "error_category",
    "error_title",
    "error_details",
    "sent_at",
    "delivered_at",
    "read_at",
    "failed_at",
    "expired_at",
)
_CUSTOMER_FIELDS = ("shopify_customer_id", "first_name", "last_name", "phone", "phone_e164", "country_code")
_COLUMNS = [getattr(Message, f) for f in _MESSAGE_FIELDS] + [
    getattr(Customer, f).label(f"customer_{f}") for f in _CUSTOMER_FIELDS
]


def _view(row) -> MessageView:
    message = SimpleNamespace(**{f: getattr(row, f) for f in _MESSAGE_FIELDS})
    customer = None
    if row.customer_shopify_customer_id is not None:
        customer = SimpleNamespace(**{f: getattr(row, f"customer_{f}") for f in _CUSTOMER_FIELDS})
        customer.name = f"{customer.first_name} {customer.last_name}".strip()
    return MessageView(message, customer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
