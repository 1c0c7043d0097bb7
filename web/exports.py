"""CSV export of a campaign's messages: exactly the rows of the filtered list, streamed.

A campaign can hold a million messages, so PostgreSQL writes the file itself (``COPY (SELECT
...) TO STDOUT``, read with psycopg's copy), in keyset chunks of ``BATCH_ROWS`` messages, each
in its own short transaction (no cursor held open while a slow client downloads): memory stays
at one chunk whatever the campaign's size. The cells are those of the JSON list: the error
described by the one taxonomy (core/errors.py, passed in as arrays), times in the shop's time
zone with their offset (the transaction's TimeZone), and the suggested phone for a number
missing its calling code, which only ``phonenumbers`` can work out: Python computes it for the
chunk's few such rows, and it is joined in by message id.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import Select, text
from sqlalchemy.orm import Session

from core.bulk import driver_connection
from core.db import session_factory
from core.errors import CATEGORY_REMEDIES, Category, OurCode, known_codes
from core.message_list import ADMIN_CUSTOMER_URL, MessageFilter, message_query
from core.models import Customer, Message
from core.phones import suggest_e164

BATCH_ROWS = 50_000

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
# The same rule in PostgreSQL (_guard), applied to every text cell of the COPY.
_SQL_PHONE_LIKE = "^[+-][0-9[:space:]().-]*$"


def safe_cell(value: object) -> object:
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    if value[0] in "+-" and _PHONE_LIKE.match(value):
        return value
    return "'" + value


def _guard(cell: str) -> str:
    """SQL for ``safe_cell``; empty text becomes NULL, which COPY writes as an empty field
    (an empty string would be written as "")."""
    # The first character is compared before any regular expression runs: most cells start
    # with a letter or a digit, and a million rows of ten cells make the difference.
    return (
        f"NULLIF(CASE WHEN left({cell}, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r')"
        f" AND ({cell}) !~ %(phone_like)s THEN '''' || ({cell}) ELSE ({cell}) END, '')"
    )


def _time(name: str, column: str) -> str:
    """ISO 8601 in the transaction's time zone, as Python's isoformat() writes it. Whole seconds
    (nearly every time: Meta's are) reuse PostgreSQL's own text of the time (``t.{name}``, made
    once per row), several times cheaper than to_char: "2026-11-01 11:00:00+01" becomes
    "2026-11-01T11:00:00+01:00"; a time with a fraction goes through to_char."""
    text_ = f"t.{name}"
    whole = f"overlay({text_} placing 'T' from 11 for 1)"
    return (
        f"CASE WHEN {text_} IS NULL THEN NULL"
        f" WHEN substr({text_}, 20, 1) = '.' THEN to_char({column}, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM')"
        f" WHEN length({text_}) = 22 THEN {whole} || ':00' ELSE {whole} END"
    )


_TIMES = {
    "sent": "r.sent_at",
    "delivered": "r.delivered_at",
    "read": "r.read_at",
    "failed": "COALESCE(r.failed_at, r.expired_at)",
}
_CELLS = (
    "r.id",
    _guard("r.wamid"),
    _guard("r.status"),
    "r.customer_shopify_customer_id",
    _guard("btrim(r.customer_first_name || ' ' || r.customer_last_name, E' \\t\\n\\r\\f\\v')"),
    _guard("r.customer_phone"),
    _guard("r.phone"),
    _guard("e.code"),
    _guard("CASE WHEN e.code IS NOT NULL THEN COALESCE(NULLIF(r.error_category, ''),"
           " (%(categories)s::text[])[e.k], 'unknown') END"),
    _guard("CASE WHEN e.code IS NOT NULL THEN COALESCE(NULLIF(r.error_title, ''),"
           " (%(titles)s::text[])[e.k], 'WhatsApp error ' || e.code) END"),
    _guard("CASE WHEN e.code IS NOT NULL THEN r.error_details END"),
    _guard("CASE WHEN e.code IS NOT NULL THEN COALESCE((%(remedies)s::text[])[e.k], %(unknown_remedy)s) END"),
    *(_time(name, column) for name, column in _TIMES.items()),
    "CASE WHEN e.code = %(calling_code)s AND r.customer_shopify_customer_id IS NOT NULL"
    " THEN %(admin_url)s || r.customer_shopify_customer_id END",
    _guard("f.suggested"),
)  # fmt: skip

_TIME_TEXTS = ", ".join(f"({column})::text AS {name}" for name, column in _TIMES.items())
# An expired message may carry no code of its own: it counts as MESSAGE_EXPIRED everywhere.
_COPY = f"""
    COPY (
        SELECT {", ".join(_CELLS)}
          FROM ({{rows}}) AS r
          CROSS JOIN LATERAL (
              SELECT code, CASE WHEN code IS NOT NULL THEN array_position(%(codes)s::text[], code) END AS k
                FROM (SELECT COALESCE(NULLIF(r.error_code, ''),
                                      CASE WHEN r.status = 'expired' THEN %(expired)s END) AS code) AS c
          ) AS e
          CROSS JOIN LATERAL (SELECT {_TIME_TEXTS}) AS t
          LEFT JOIN unnest(%(fix_ids)s::bigint[], %(fix_phones)s::text[]) AS f(id, suggested) ON f.id = r.id
         ORDER BY r.id
    ) TO STDOUT (FORMAT csv)
"""

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
_CUSTOMER_FIELDS = ("shopify_customer_id", "first_name", "last_name", "phone", "country_code")
_COLUMNS = [getattr(Message, f) for f in _MESSAGE_FIELDS] + [
    getattr(Customer, f).label(f"customer_{f}") for f in _CUSTOMER_FIELDS
]


def stream_csv(
    shop_id: int, campaign_id: int, filters: MessageFilter, zone: ZoneInfo, *, batch: int = BATCH_ROWS
) -> Iterator[str]:
    """Yield the CSV text chunk by chunk, header first, one chunk per ``batch`` messages."""
    yield _header()
    after_id = None
    while True:
        with session_factory()() as session, session.begin():
            rows = message_query(shop_id, campaign_id, filters, after_id=after_id, limit=None)
            last_id = _last_id_of_chunk(session, rows, batch)
            if last_id is not None:
                rows = rows.where(Message.id <= last_id)
            chunk = _copy(session, rows, zone)
        if chunk:
            yield chunk
        if last_id is None:
            return
        after_id = last_id


def _header() -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(HEADER)
    return buffer.getvalue()


def _last_id_of_chunk(session: Session, rows: Select, batch: int) -> int | None:
    """The id of the ``batch``-th row (bounded by the chunk, walked on the index); None when
    fewer rows are left: this chunk is the last."""
    return session.scalar(rows.with_only_columns(Message.id).offset(batch - 1).limit(1))


def _copy(session: Session, rows: Select, zone: ZoneInfo) -> str:
    session.execute(text("SELECT set_config('TimeZone', :zone, true)"), {"zone": zone.key})
    fix_ids, fix_phones = _suggestions(session, rows)
    compiled = rows.with_only_columns(*_COLUMNS).compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    params = compiled.params | _TAXONOMY | {"fix_ids": fix_ids, "fix_phones": fix_phones}
    out = bytearray()
    with (
        driver_connection(session).cursor() as cursor,
        cursor.copy(_COPY.format(rows=compiled), params) as copy,
    ):
        for data in copy:
            out += data
    return out.decode()


def _suggestions(session: Session, rows: Select) -> tuple[list[int], list[str | None]]:
    """The corrected number of each chunk row failed for a missing calling code."""
    fixable = rows.where(Message.error_code == OurCode.CUSTOMER_IS_MISSING_CALLING_CODE).with_only_columns(
        Message.id, Customer.phone, Customer.country_code
    )
    found = [(row.id, suggest_e164(row.phone, row.country_code)) for row in session.execute(fixable)]
    return [i for i, _ in found], [phone for _, phone in found]


def _taxonomy() -> dict:
    infos = known_codes()
    return {
        "codes": [info.code for info in infos],
        "categories": [str(info.category) for info in infos],
        "titles": [info.title for info in infos],
        "remedies": [info.remedy for info in infos],
        "unknown_remedy": CATEGORY_REMEDIES[Category.UNKNOWN],
        "expired": OurCode.MESSAGE_EXPIRED.value,
        "calling_code": OurCode.CUSTOMER_IS_MISSING_CALLING_CODE.value,
        "admin_url": ADMIN_CUSTOMER_URL.format(""),
        "phone_like": _SQL_PHONE_LIKE,
    }


_TAXONOMY = _taxonomy()
