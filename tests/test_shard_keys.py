"""Readiness for Citus (docs/scaling.md): keys of shop-owned tables begin with shop_id, and the
statement check that every test runs under (tests/sql_guard.py) catches what it must."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from core.db import get_engine
from core.ops.citus import LOCAL_TABLES, REFERENCE_TABLES
from tests.shard_keys import unscoped_tables
from tests.sql_guard import ROOT

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

_UNIQUE_KEYS = text("""
    SELECT t.relname AS table_name, i.relname AS key_name,
           (SELECT array_agg(a.attname ORDER BY k.n)
              FROM unnest(x.indkey) WITH ORDINALITY AS k(attnum, n)
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum) AS key_columns
      FROM pg_index x
      JOIN pg_class t ON t.oid = x.indrelid
      JOIN pg_class i ON i.oid = x.indexrelid
      JOIN pg_namespace n ON n.oid = t.relnamespace
     WHERE n.nspname = 'public' AND x.indisunique
""")
_FOREIGN_KEYS = text("""
    SELECT c.conname, src.relname AS table_name, dst.relname AS referenced,
           (SELECT array_agg(a.attname) FROM pg_attribute a
             WHERE a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)) AS key_columns
      FROM pg_constraint c
      JOIN pg_class src ON src.oid = c.conrelid
      JOIN pg_class dst ON dst.oid = c.confrelid
     WHERE c.contype = 'f'
""")
_TABLES = text("""
    SELECT c.relname, bool_or(a.attname = 'shop_id') AS has_shop_id
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
     GROUP BY c.relname
""")


def _shop_owned(conn) -> set[str]:
    return {name for name, has_shop_id in conn.execute(_TABLES) if has_shop_id} - LOCAL_TABLES


def test_every_table_is_shop_owned_reference_or_local(service_urls):
    """A new table either carries shop_id or is named a reference or local table, with its reason."""
    with get_engine(service_urls["database_url"]).connect() as conn:
        tables = dict(conn.execute(_TABLES).all())
    unplaced = (
        {name for name, has_shop_id in tables.items() if not has_shop_id} - REFERENCE_TABLES - LOCAL_TABLES
    )
    assert not unplaced, f"say in core/ops/citus.py and docs/scaling.md where these live: {unplaced}"


def test_every_primary_and_unique_key_of_a_shop_owned_table_begins_with_shop_id(service_urls):
    """Citus enforces a unique key only when it contains the distribution column; leading with
    it also keeps each shop's rows together in every index."""
    with get_engine(service_urls["database_url"]).connect() as conn:
        owned = _shop_owned(conn)
        keys = [row for row in conn.execute(_UNIQUE_KEYS) if row.table_name in owned]
    assert {row.table_name for row in keys} == owned  # every shop-owned table has a key
    wrong = [
        f"{row.table_name}.{row.key_name} {row.key_columns}"
        for row in keys
        if row.key_columns[0] != "shop_id"
    ]
    assert not wrong, f"keys that do not begin with shop_id: {wrong}"


def test_every_foreign_key_between_shop_owned_tables_carries_shop_id(service_urls):
    """Distributed tables can reference each other only within one shard: on shop_id too."""
    with get_engine(service_urls["database_url"]).connect() as conn:
        owned = _shop_owned(conn)
        keys = [
            row for row in conn.execute(_FOREIGN_KEYS) if row.table_name in owned and row.referenced in owned
        ]
    assert keys
    wrong = [
        f"{row.table_name}.{row.conname} {row.key_columns}"
        for row in keys
        if "shop_id" not in row.key_columns
    ]
    assert not wrong, f"foreign keys across shards: {wrong}"


OWNED = frozenset({"messages", "campaigns", "clicks", "customers"})
UNNEST = "unnest(CAST(%(shop_ids)s AS bigint[]), CAST(%(wamids)s AS text[])) AS u(shop_id, wamid)"


@pytest.mark.parametrize(
    "sql, unscoped",
    [
        ("SELECT * FROM messages m WHERE m.shop_id = %(shop_id)s AND m.id = 3", ()),
        ("SELECT * FROM messages m WHERE m.id = 3", ("messages as m",)),
        ("SELECT * FROM messages m WHERE m.shop_id = 1 OR m.id = 2", ("messages as m",)),
        ("SELECT count(*) FILTER (WHERE shop_id = 1) FROM messages", ("messages as messages",)),
        ("DELETE FROM clicks WHERE shop_id = ANY(%(ids)s)", ()),
        ("UPDATE campaigns SET name = 'x' WHERE id = 3", ("campaigns as campaigns",)),
        # joins: the shop travels along equalities on shop_id, and only along those
        (
            "SELECT * FROM messages m JOIN customers c ON c.shop_id = m.shop_id AND c.id = m.customer_id"
            " WHERE m.shop_id = %(s)s",
            (),
        ),
        (
            "SELECT * FROM messages m JOIN customers c ON c.id = m.customer_id WHERE m.shop_id = %(s)s",
            ("customers as c",),
        ),
        # subqueries scope themselves, unless they are correlated on shop_id
        (
            "SELECT * FROM messages WHERE shop_id = %(s)s"
            " AND id IN (SELECT message_id FROM clicks WHERE id = 1)",
            ("clicks as clicks",),
        ),
        (
            "SELECT * FROM messages m WHERE m.shop_id = %(s)s"
            " AND EXISTS (SELECT 1 FROM clicks k WHERE k.shop_id = m.shop_id)",
            (),
        ),
        ("SELECT * FROM (SELECT * FROM messages) AS x WHERE x.shop_id = 1", ("messages as messages",)),
        # CTEs and unnest joins, as the drain writes them
        (
            f"WITH u AS (SELECT * FROM {UNNEST}), old AS (SELECT m.shop_id, m.id FROM u JOIN messages m"
            " ON m.shop_id = u.shop_id AND m.wamid = u.wamid FOR UPDATE OF m)"
            " UPDATE messages AS m SET status = 'read' FROM old o"
            " WHERE m.shop_id = o.shop_id AND m.id = o.id",
            (),
        ),
        (
            "WITH old AS (SELECT m.id FROM messages m WHERE m.wamid = 'x') SELECT * FROM old",
            ("messages as m",),
        ),
        (
            f"UPDATE customers c SET consent = 'UNSUBSCRIBED' FROM {UNNEST}"
            " JOIN messages m ON m.wamid = u.wamid"
            " WHERE c.shop_id = m.shop_id AND c.id = m.customer_id",
            ("messages as m", "customers as c"),
        ),
        (
            f"UPDATE customers c SET consent = 'UNSUBSCRIBED' FROM {UNNEST} JOIN messages m"
            " ON m.shop_id = u.shop_id AND m.wamid = u.wamid"
            " WHERE c.shop_id = m.shop_id AND c.id = m.customer_id",
            (),
        ),
        # inserts name the shop
        ("INSERT INTO messages (id, wamid) VALUES (1, 'w')", ("messages (INSERT without shop_id)",)),
        ("INSERT INTO messages (shop_id, wamid) SELECT %(s)s, w FROM seed ON CONFLICT DO NOTHING", ()),
        ("TRUNCATE messages", ()),
    ],
)
def test_the_statement_check_finds_every_unscoped_shop_owned_table(sql, unscoped):
    """Each shop-owned table a statement reads or writes without its shop_id is named."""
    assert unscoped_tables(sql, OWNED) == unscoped


PROBE = "shard_probe.py"  # a module of core/ that does not exist: the statement's code is made here


def test_an_unscoped_statement_from_app_code_is_recorded_and_one_from_a_test_is_not(service_urls, sql_guard):
    """The guard attributes a statement to the code that ran it: app code is checked, tests are not."""
    statement = "SELECT count(*) FROM messages WHERE id > 0"
    with get_engine(service_urls["database_url"]).connect() as conn:
        conn.execute(text(statement))  # this test's own statement
        assert sql_guard.take() == []
        app_code = compile("conn.execute(text(statement))", str(ROOT / "core" / PROBE), "exec")
        exec(app_code, {"conn": conn, "text": text, "statement": statement})
    [violation] = sql_guard.take()  # taken, so this test itself passes
    assert violation.caller == f"core/{PROBE}:<module>" and violation.tables == ("messages as messages",)
