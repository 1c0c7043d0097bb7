"""CSV export of a campaign's messages: exactly the rows of the filtered list, streamed.

A campaign can hold a million messages, so PostgreSQL writes the file itself (``COPY (SELECT
...) TO STDOUT``, read with psycopg's copy), in keyset chunks of ``BATCH_ROWS`` messages, each
in its own short transaction (no cursor held open while a slow client downloads), two at a
time: memory stays at a few chunks whatever the campaign's size (see stream_csv). The cells
are those of the JSON list: the error described by the one taxonomy (core/rules/failure_codes.py, passed
in as arrays), times in the shop's time zone with their offset (the transaction's TimeZone),
and the suggested phone for a number missing its calling code, which only ``phonenumbers``
can work out: Python computes it for the chunk's few such rows, and it is joined in by
message id.
"""

from __future__ import annotations

import csv
import io
import re
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from functools import cache
from zoneinfo import ZoneInfo

from sqlalchemy import Select, text
from sqlalchemy.orm import Session, sessionmaker

from core.bulk import driver_connection
from core.campaigns.us_numbers import US_REMEDY
from core.db import session_factory
from core.models import Customer, Message, Shop
from core.reports.message_list import ADMIN_CUSTOMER_URL, MessageFilter, message_query
from core.rules.failure_codes import CATEGORY_REMEDIES, Category, OurCode, describe, known_codes
from core.rules.phones import is_us_area_code, suggest_e164

BATCH_ROWS = 50_000
PERMISSION_CODE = "200"  # stands for every Graph API permission code, 200-299 (core/rules/failure_codes.py)
CHUNKS_IN_FLIGHT = 2  # chunks PostgreSQL writes at once for one export (see stream_csv)

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
    # The customer's page in the Shopify admin as an https link a spreadsheet can open
    # (customer_admin_url's shopify:// link opens only inside the admin).
    "customer_admin_link",
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
    """SQL for ``safe_cell`` over a column of the inner select (named up to three times, so
    it must be a plain column); empty text becomes NULL, which COPY writes as an empty field
    (an empty string would be written as "")."""
    # The first character is compared as a number before any regular expression runs: most
    # cells start with a letter or a digit, and a million rows of eleven cells make the difference.
    return (
        f"CASE WHEN ascii({cell}) IN ({_FORMULA_CODES}) AND {cell} !~ %(phone_like)s"
        f" THEN '''' || {cell} ELSE NULLIF({cell}, '') END"
    )


_FORMULA_CODES = ", ".join(str(ord(start)) for start in _FORMULA_START)


def _time(name: str) -> str:
    """ISO 8601 in the transaction's time zone, as Python's isoformat() writes it, from the
    inner select's ``{name}`` (PostgreSQL's own text of the time in the ISO DateStyle, made once
    per row: "2026-11-01 11:00:00+01") and ``{name}_at`` (the time). Whole seconds, nearly every
    time (Meta's are), need only the "T" and an offset's minutes when the text has none (22
    characters); a time with a fraction goes through to_char, for isoformat's six digits.
    Measured: a tenth less of the backend's time than the JSON text of the time, and several
    times less than to_char for every time."""
    text_, at = f"c.{name}", f"c.{name}_at"
    return (
        f"CASE WHEN length({text_}) = 22 THEN replace({text_}, ' ', 'T') || ':00'"
        f" WHEN strpos({text_}, '.') > 0 THEN to_char({at}, 'YYYY-MM-DD\"T\"HH24:MI:SS.USTZH:TZM')"
        f" ELSE replace({text_}, ' ', 'T') END"
    )


_TIMES = {
    "sent": "r.sent_at",
    "delivered": "r.delivered_at",
    "read": "r.read_at",
    "failed": "COALESCE(r.failed_at, r.expired_at)",
}
# What each cell shows, before the guard and the time's format: made once per row (_COPY).
_VALUES = {
    "id": "r.id",
    "wamid": "r.wamid",
    "status": "r.status",
    "shopify_id": "r.customer_shopify_customer_id",
    "name": "btrim(r.customer_first_name || ' ' || r.customer_last_name, E' \\t\\n\\r\\f\\v')",
    "customer_phone": "r.customer_phone",
    "phone": "r.phone",
    "code": "e.code",
    "category": "CASE WHEN e.code IS NOT NULL THEN COALESCE(NULLIF(r.error_category, ''),"
                " (%(categories)s::text[])[e.k], 'unknown') END",
    "title": "CASE WHEN e.code IS NOT NULL THEN COALESCE(NULLIF(r.error_title, ''),"
             " (%(titles)s::text[])[e.k], 'WhatsApp error ' || e.code) END",
    "details": "CASE WHEN e.code IS NOT NULL THEN r.error_details END",
    # 131049 to a United States number is WhatsApp's pause of marketing there (core/campaigns/us_numbers.py).
    "remedy": "CASE WHEN e.code = '131049' AND left(r.phone, 2) = '+1' AND length(r.phone) = 12"
              " AND substr(r.phone, 3, 3) = ANY(%(us_area_codes)s::text[]) THEN %(us_remedy)s"
              " WHEN e.code IS NOT NULL THEN COALESCE((%(remedies)s::text[])[e.k], %(unknown_remedy)s) END",
    **{name: f"({column})::text" for name, column in _TIMES.items()},
    **{f"{name}_at": column for name, column in _TIMES.items()},
    "admin_url": "CASE WHEN e.code = %(calling_code)s AND r.customer_shopify_customer_id IS NOT NULL"
                 " THEN %(admin_url)s || r.customer_shopify_customer_id END",
    "suggested": "f.suggested",
    "admin_link": "CASE WHEN r.customer_shopify_customer_id IS NOT NULL"
                  " THEN %(admin_customers)s || r.customer_shopify_customer_id END",
}  # fmt: skip
# The columns of HEADER, in order; every text a merchant or Meta can write is guarded.
_CELLS = (
    "c.id", _guard("c.wamid"), _guard("c.status"), "c.shopify_id", _guard("c.name"),
    _guard("c.customer_phone"), _guard("c.phone"), _guard("c.code"), _guard("c.category"),
    _guard("c.title"), _guard("c.details"), _guard("c.remedy"), *(_time(name) for name in _TIMES),
    "c.admin_url", _guard("c.suggested"), "c.admin_link",
)  # fmt: skip

# The inner select is kept whole by OFFSET 0: PostgreSQL would otherwise pull it up into the
# outer one and copy each value into every place that names it (a time's text made four times
# a row, a name trimmed three times). An expired message may carry no code of its own: it
# counts as MESSAGE_EXPIRED everywhere. A code is looked up in the taxonomy's arrays (k), a
# Graph API permission code (200-299) at the permission errors' entry, as describe() does.
_COPY = f"""
    COPY (
        SELECT {", ".join(_CELLS)}
          FROM (
              SELECT {", ".join(f"{value} AS {name}" for name, value in _VALUES.items())}
                FROM ({{rows}}) AS r
                CROSS JOIN LATERAL (
                    SELECT code,
                           CASE WHEN code IS NOT NULL  -- array_position would look for a NULL
                                THEN COALESCE(array_position(%(codes)s::text[], code),
                                              CASE WHEN code ~ '^0*2[0-9][0-9]$' THEN %(permission_k)s END)
                           END AS k
                      FROM (SELECT COALESCE(NULLIF(r.error_code, ''),
                                            CASE WHEN r.status = 'expired' THEN %(expired)s END) AS code) AS c
                ) AS e
                LEFT JOIN unnest(%(fix_ids)s::bigint[], %(fix_phones)s::text[]) AS f(id, suggested)
                       ON f.id = r.id
               ORDER BY r.id
              OFFSET 0
          ) AS c
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
) -> Iterator[bytes]:
    """Yield the CSV (UTF-8) chunk by chunk, header first, one chunk per ``batch`` messages.

    A long export must not hold the database while a slow client downloads: each chunk is one
    short transaction that reads its whole COPY into memory (about 9 MB for 50,000 rows) and
    returns its connection to the pool before the chunk is sent. A slow client holds a web
    thread and at most ``CHUNKS_IN_FLIGHT`` + 1 chunks of memory, never a connection, an open
    transaction (a snapshot that would keep VACUUM from the rows the drain updates) or a
    statement that the statement timeout would cut. One COPY for the whole export is no faster
    (measured side by side: the per-chunk plan walks the same index) and would hold all three
    for as long as the download lasts.

    PostgreSQL's work is most of the time, so ``CHUNKS_IN_FLIGHT`` chunks are written at once,
    each by its own backend (from the pool: an export uses that many connections, briefly),
    and yielded in order. The chunks' bounds come first, one short index walk each.
    """
    yield _header()
    sessions = session_factory()  # the threads' sessions are those of the caller's database
    admin_customers = _admin_customers(sessions, shop_id)
    with ThreadPoolExecutor(CHUNKS_IN_FLIGHT, thread_name_prefix="csv-export") as chunks:
        in_flight: deque[Future[bytes]] = deque()
        for after_id, last_id in _chunk_bounds(sessions, shop_id, campaign_id, filters, zone, batch):
            rows = message_query(shop_id, campaign_id, filters, after_id=after_id, limit=None)
            if last_id is not None:
                rows = rows.where(Message.id <= last_id)
            in_flight.append(chunks.submit(_chunk, sessions, rows, zone, filters, admin_customers))
            if len(in_flight) == CHUNKS_IN_FLIGHT:
                yield from _written(in_flight.popleft())
        while in_flight:
            yield from _written(in_flight.popleft())


def _written(chunk: Future[bytes]) -> Iterator[bytes]:
    """The chunk's CSV once written, unless it is empty (the last chunk can be)."""
    if data := chunk.result():
        yield data


def _chunk_bounds(
    sessions: sessionmaker[Session],
    shop_id: int,
    campaign_id: int,
    filters: MessageFilter,
    zone: ZoneInfo,
    batch: int,
) -> Iterator[tuple[int | None, int | None]]:
    """(after id, last id) of each chunk in turn; the last chunk's last id is None (to the end)."""
    after_id = None
    while True:
        with sessions() as session, session.begin():
            _chunk_settings(session, zone, filters)
            rows = message_query(shop_id, campaign_id, filters, after_id=after_id, limit=None)
            last_id = _last_id_of_chunk(session, rows, batch)
        yield after_id, last_id
        if last_id is None:
            return
        after_id = last_id


def _admin_customers(sessions: sessionmaker[Session], shop_id: int) -> str:
    """The start of the shop's customer pages in the Shopify admin ("https://admin.shopify.com/
    store/demo/customers/"): the store's handle is its myshopify.com subdomain."""
    with sessions() as session, session.begin():
        domain = session.get(Shop, shop_id).domain
    return f"https://admin.shopify.com/store/{domain.removesuffix('.myshopify.com')}/customers/"


def _chunk(
    sessions: sessionmaker[Session],
    rows: Select,
    zone: ZoneInfo,
    filters: MessageFilter,
    admin_customers: str,
) -> bytes:
    """The CSV of one chunk's rows, in a transaction of its own."""
    with sessions() as session, session.begin():
        _chunk_settings(session, zone, filters)
        return _copy(session, rows, admin_customers)


def _header() -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(HEADER)
    return buffer.getvalue().encode()


def _chunk_settings(session: Session, zone: ZoneInfo, filters: MessageFilter) -> None:
    """Set, for this chunk's transaction: the shop's time zone, which the times are written in,
    and the ISO DateStyle they are written from (_time); no JIT, whose compilation of this wide
    select costs more than it saves on one chunk. Unless the merchant searched: no hash join,
    so each chunk row finds its customer on the customers' key instead of every chunk hashing
    all the shop's customers (a million of them cost a second a chunk, and the planner prefers
    that for 50,000 rows), and no parallel workers within a chunk (the chunks are written in
    parallel already, and a chunk alone is then read in id order off the index, unsorted). A
    search tests the customer of every message of the campaign, in one chunk unless it matches
    thousands: the planner's own plan, one hash of the customers shared by parallel workers,
    suits that scan.

    On Citus the shard's worker writes the rows, so the settings must reach it: Citus passes on
    a transaction's SET LOCAL commands (not set_config calls) when told to; on a PostgreSQL
    without Citus that first setting is an unused placeholder."""
    settings = {"citus.propagate_set_commands": "local", "TimeZone": zone.key, **_SEARCH_SETTINGS}
    if not filters.search:
        settings |= _CHUNK_SETTINGS
    for name, value in settings.items():
        session.execute(text(f"SET LOCAL {name} TO {_quoted(value)}"))


_SEARCH_SETTINGS = {"DateStyle": "ISO", "jit": "off"}
_CHUNK_SETTINGS = {"enable_hashjoin": "off", "max_parallel_workers_per_gather": "0"}


def _quoted(value: str) -> str:
    """A SQL string literal (SET takes no bind parameters)."""
    return "'" + value.replace("'", "''") + "'"


def _last_id_of_chunk(session: Session, rows: Select, batch: int) -> int | None:
    """The id of the ``batch``-th row (bounded by the chunk, walked on the index); None when
    fewer rows are left: this chunk is the last."""
    return session.scalar(rows.with_only_columns(Message.id).offset(batch - 1).limit(1))


def _copy(session: Session, rows: Select, admin_customers: str) -> bytes:
    """The chunk's CSV as PostgreSQL writes it: one COPY block per row, appended as it comes
    (a list of the chunk's rows to join would hold each row twice, and an object per row)."""
    fix_ids, fix_phones = _suggestions(session, rows)
    compiled = rows.with_only_columns(*_COLUMNS).compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    params = compiled.params | _taxonomy() | {"fix_ids": fix_ids, "fix_phones": fix_phones}
    params["admin_customers"] = admin_customers
    out = bytearray()
    with (
        driver_connection(session).cursor() as cursor,
        cursor.copy(_COPY.format(rows=compiled), params) as copy,
    ):
        for row in copy:
            out += row
    return bytes(out)


def _suggestions(session: Session, rows: Select) -> tuple[list[int], list[str | None]]:
    """The corrected number of each chunk row failed for a missing calling code."""
    fixable = rows.where(Message.error_code == OurCode.CUSTOMER_IS_MISSING_CALLING_CODE).with_only_columns(
        Message.id, Customer.phone, Customer.country_code
    )
    found = [(row.id, suggest_e164(row.phone, row.country_code)) for row in session.execute(fixable)]
    return [i for i, _ in found], [phone for _, phone in found]


@cache
def _taxonomy() -> dict:
    """The taxonomy as arrays PostgreSQL indexes by a code's position (describe() in SQL); the
    permission errors' description (any code 200-299) is the last entry."""
    infos = [*known_codes(), describe(PERMISSION_CODE)]
    return {
        "codes": [info.code for info in infos[:-1]],
        "categories": [str(info.category) for info in infos],
        "titles": [info.title for info in infos],
        "remedies": [info.remedy for info in infos],
        "permission_k": len(infos),
        "unknown_remedy": CATEGORY_REMEDIES[Category.UNKNOWN],
        "us_remedy": US_REMEDY,
        "us_area_codes": [f"{area:03}" for area in range(1000) if is_us_area_code(f"{area:03}")],
        "expired": OurCode.MESSAGE_EXPIRED.value,
        "calling_code": OurCode.CUSTOMER_IS_MISSING_CALLING_CODE.value,
        "admin_url": ADMIN_CUSTOMER_URL.format(""),
        "phone_like": _SQL_PHONE_LIKE,
    }
