"""The schema on Citus (docs/scaling.md): where each table lives, the step that puts it there,
and new databases on a Citus server.

Each table is placed by what the migrated schema says, read from PostgreSQL's catalog: a table
with a ``shop_id`` column is distributed by it, co-located with the others; a table named in
``REFERENCE_TABLES`` is copied to every node; one named in ``LOCAL_TABLES`` stays on the
coordinator. A table added by a later migration is placed by the same rule, and a table that
fits none of them stops ``distribute`` with its name. tests/shard_keys.py checks statements and
keys against the same classification.

``distribute`` is idempotent: a table already placed is left alone. ``flask --app web db
distribute`` runs it, and so does ``db upgrade`` when the database has the Citus extension.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import make_conninfo

# Tables without shop_id that every node needs a copy of: small, read by every request, and
# keyed by something other than a shop id (docs/scaling.md).
REFERENCE_TABLES = frozenset({"shops"})
# Tables that stay on the coordinator. The inbox holds bodies before anyone knows their shop (a
# Meta body may even hold several shops' statuses); alembic_version is the schema's revision.
LOCAL_TABLES = frozenset({"inbox_events", "alembic_version"})

DISTRIBUTION_COLUMN = "shop_id"
DISTRIBUTED, REFERENCE, LOCAL = "distributed", "reference", "local"

_TABLES = """
    SELECT c.relname, bool_or(a.attname = %s) AS has_shop_id
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
     GROUP BY c.relname
"""
# Foreign keys between tables of the public schema: a referenced table is distributed first.
_REFERENCES = """
    SELECT src.relname, dst.relname
      FROM pg_constraint k
      JOIN pg_class src ON src.oid = k.conrelid
      JOIN pg_class dst ON dst.oid = k.confrelid
      JOIN pg_namespace n ON n.oid = src.relnamespace
     WHERE k.contype = 'f' AND n.nspname = 'public' AND src.oid <> dst.oid
"""
# How Citus holds each table now: 'h' hash-distributed; 'n' with replication model 't' a
# reference table; 'n' with 's' a "Citus local" table (a local table Citus took over).
_PLACED = """
    SELECT logicalrelid::regclass::text, partmethod, repmodel, colocationid
      FROM pg_dist_partition
"""


class UnplacedTable(RuntimeError):
    """A table that is neither shop-owned nor named a reference or local table."""


class CitusError(RuntimeError):
    """The database holds a table in a way distribute() cannot fix by itself."""


@dataclass(frozen=True)
class Placement:
    distributed: tuple[str, ...]  # in an order where a referenced table comes first
    reference: tuple[str, ...]
    local: tuple[str, ...]


def has_citus(conn: psycopg.Connection) -> bool:
    """Whether the database of ``conn`` has the Citus extension (then it is a coordinator)."""
    return conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'citus'").fetchone() is not None


def placement(conn: psycopg.Connection) -> Placement:
    """Where each table of the migrated schema belongs, by the rule of this module's docstring."""
    distributed, reference, local, unplaced = [], [], [], []
    for name, has_shop_id in conn.execute(_TABLES, (DISTRIBUTION_COLUMN,)):
        if name in LOCAL_TABLES:
            local.append(name)
        elif name in REFERENCE_TABLES:
            reference.append(name)
        elif has_shop_id:
            distributed.append(name)
        else:
            unplaced.append(name)
    if unplaced:
        raise UnplacedTable(
            f"tables without {DISTRIBUTION_COLUMN} that are neither reference nor local tables: "
            f"{sorted(unplaced)}; name them in core/ops/citus.py and docs/scaling.md"
        )
    references = conn.execute(_REFERENCES).fetchall()
    return Placement(
        _referenced_first(distributed, references), tuple(sorted(reference)), tuple(sorted(local))
    )


def _referenced_first(tables: list[str], references: list[tuple[str, str]]) -> tuple[str, ...]:
    """``tables`` ordered so that each comes after the tables among them it references."""
    pending = set(tables)
    needs = {table: {dst for src, dst in references if src == table and dst in pending} for table in tables}
    ordered: list[str] = []
    while pending:
        ready = sorted(table for table in pending if not needs[table] & pending)
        if not ready:
            raise CitusError(f"foreign keys in a cycle among {sorted(pending)}")
        ordered += ready
        pending -= set(ready)
    return tuple(ordered)


def distribute(conn: psycopg.Connection) -> Placement:
    """Place every table (idempotent); ``conn`` is an autocommit connection to the coordinator.

    Reference tables go first, so that distributed tables keep their foreign keys to them.
    Citus would turn a local table that references a reference table into a "Citus local"
    table, which then cannot be distributed (its identity columns forbid the conversion):
    ``enable_local_reference_table_foreign_keys`` off leaves the shop-owned tables plain until
    their turn comes, a moment later."""
    wanted = placement(conn)
    placed = _placed(conn)
    _refuse_misplaced(wanted, placed)
    conn.execute("SET citus.enable_local_reference_table_foreign_keys TO off")
    for table in wanted.reference:
        if table not in placed:
            conn.execute("SELECT create_reference_table(%s)", (table,))
    anchor = next((table for table in wanted.distributed if table in placed), None)
    for table in wanted.distributed:
        if table in placed:
            continue
        colocate_with = anchor or "none"
        conn.execute(
            "SELECT create_distributed_table(%s, %s, colocate_with => %s)",
            (table, DISTRIBUTION_COLUMN, colocate_with),
        )
        anchor = anchor or table
    conn.execute("RESET citus.enable_local_reference_table_foreign_keys")
    return wanted


def _placed(conn: psycopg.Connection) -> dict[str, str]:
    kinds = {}
    for name, method, model, _colocation in conn.execute(_PLACED):
        if method == "h":
            kinds[name] = DISTRIBUTED
        else:
            kinds[name] = REFERENCE if model == "t" else "citus local"
    return kinds


def _refuse_misplaced(wanted: Placement, placed: dict[str, str]) -> None:
    expected = dict.fromkeys(wanted.distributed, DISTRIBUTED) | dict.fromkeys(wanted.reference, REFERENCE)
    expected |= dict.fromkeys(wanted.local, LOCAL)
    wrong = {table: kind for table, kind in placed.items() if table in expected and kind != expected[table]}
    if wrong:
        raise CitusError(f"tables held otherwise than core/ops/citus.py places them: {wrong}")


def distributed_table_count(conn: psycopg.Connection) -> int:
    """How many tables Citus distributes (pg_dist_partition): hash-distributed by shop_id."""
    return conn.execute("SELECT count(*) FROM pg_dist_partition WHERE partmethod = 'h'").fetchone()[0]


# ---- new databases on a Citus server -----------------------------------------------------------


@dataclass(frozen=True)
class Topology:
    """The nodes as the coordinator's maintenance database knows them (host, port)."""

    coordinator: tuple[str, int]
    workers: tuple[tuple[str, int], ...]


def topology(admin: psycopg.Connection) -> Topology | None:
    """The nodes of the server ``admin`` is connected to, or None when it is no Citus coordinator."""
    if not has_citus(admin):
        return None
    rows = admin.execute(
        "SELECT groupid, nodename, nodeport FROM pg_dist_node"
        " WHERE noderole = 'primary' ORDER BY groupid, nodeport"
    ).fetchall()
    coordinator = next(((host, port) for group, host, port in rows if group == 0), None)
    if coordinator is None:
        raise CitusError("the coordinator does not know itself: SELECT citus_set_coordinator_host(...)")
    return Topology(coordinator, tuple((host, port) for group, host, port in rows if group != 0))


def create_database(admin: psycopg.Connection, name: str, nodes: Topology) -> None:
    """Create database ``name`` on every node (Citus propagates CREATE DATABASE), with the
    extension in each, and the nodes registered in the new database's own metadata: Citus
    keeps its metadata per database, so a new one starts knowing no node."""
    admin.execute("SET citus.enable_create_database_propagation TO on")
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        for node in (nodes.coordinator, *nodes.workers):
            with _connect_like(admin, node, name) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
        with _connect_like(admin, nodes.coordinator, name) as conn:
            register_nodes(conn, nodes)
    except BaseException:
        drop_database(admin, name)
        raise


# A worker may refuse the drop for a moment: on a busy machine, Citus's maintenance daemon of
# a database created seconds before can still be starting there, a session FORCE does not end
# (make citus-test failed so twice at a load average of 7.7). IF EXISTS makes the next try
# finish what the last one left, node by node.
DROP_TRIES = 5
DROP_RETRY_S = 1.0


def drop_database(admin: psycopg.Connection, name: str) -> None:
    """Drop ``name`` on every node; FORCE ends the sessions a failed run left behind."""
    admin.execute("SET citus.enable_create_database_propagation TO on")
    for attempt in range(1, DROP_TRIES + 1):
        try:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.ObjectInUse:
            if attempt == DROP_TRIES:
                raise
            time.sleep(DROP_RETRY_S)


def register_nodes(conn: psycopg.Connection, nodes: Topology) -> None:
    """Make the coordinator's database of ``conn`` know itself and its workers (idempotent)."""
    known = set(conn.execute("SELECT nodename, nodeport FROM pg_dist_node").fetchall())
    if nodes.coordinator not in known:
        conn.execute("SELECT citus_set_coordinator_host(%s, %s)", nodes.coordinator)
    for worker in nodes.workers:
        if worker not in known:
            conn.execute("SELECT citus_add_node(%s, %s)", worker)


def _connect_like(admin: psycopg.Connection, node: tuple[str, int], database: str) -> psycopg.Connection:
    """A connection to ``database`` on ``node`` as the user and password of ``admin``."""
    host, port = node
    conninfo = make_conninfo(
        admin.info.dsn, host=host, port=port, dbname=database, password=admin.info.password
    )
    return psycopg.connect(conninfo, autocommit=True)
