"""The schema on Citus (core/ops/citus.py) and the check of the hot paths' plans
(tests/citus_plans.py). ``make citus-test`` runs them on a coordinator and two workers; on a
PostgreSQL without Citus only the placement rule itself is checked, the others are skipped."""

from __future__ import annotations

import re

import psycopg
import pytest
from sqlalchemy import text

from core.db import get_engine, libpq_url
from core.ops import citus
from core.ops.migrate import fresh_database
from tests.sql_guard import ROOT

pytestmark = pytest.mark.citus  # also on the Citus cluster (make citus-test)

_HOW_PLACED = """
    SELECT logicalrelid::regclass::text, partmethod, repmodel, colocationid,
           column_to_column_name(logicalrelid, partkey)
      FROM pg_dist_partition
"""
_NODES = "SELECT nodename, nodeport, groupid FROM pg_dist_node WHERE noderole = 'primary' ORDER BY groupid"


def _connect(url: str) -> psycopg.Connection:
    return psycopg.connect(libpq_url(url), autocommit=True)


@pytest.fixture
def on_citus(service_urls) -> str:
    """The test database's URL, when it is on a Citus coordinator."""
    with _connect(service_urls["database_url"]) as conn:
        if not citus.has_citus(conn):
            pytest.skip("needs a Citus coordinator: make citus-test")
    return service_urls["database_url"]


def test_a_table_without_shop_id_that_nobody_placed_stops_the_placement(service_urls):
    """A new table is distributed by the rule, or named a reference or local table: one that
    fits none stops the migration step with its name, on any server."""
    with (
        fresh_database(service_urls["server_url"], "test_unplaced", migrated=False) as url,
        _connect(url) as conn,
    ):
        conn.execute("CREATE TABLE shop_things (shop_id bigint, id bigint, PRIMARY KEY (shop_id, id))")
        conn.execute("CREATE TABLE exchange_rates (currency text PRIMARY KEY)")
        with pytest.raises(citus.UnplacedTable, match="exchange_rates"):
            citus.placement(conn)
        conn.execute("DROP TABLE exchange_rates")
        assert citus.placement(conn).distributed == ("shop_things",)


def test_the_scaling_doc_names_every_table_where_it_lives(service_urls):
    """docs/scaling.md's table of placements lists exactly the tables the rule places, so a
    table a later revision adds is named there too (the rule distributes it either way)."""
    rows = {}
    for line in (ROOT / "docs" / "scaling.md").read_text().splitlines():
        if line.startswith("| `"):
            names, kind = line.split(" | ")[:2]
            rows[kind] = set(re.findall(r"`(\w+)`", names.split(" (")[0]))  # not the remark after
    with _connect(service_urls["database_url"]) as conn:
        wanted = citus.placement(conn)
    distributed = next(names for kind, names in rows.items() if kind.startswith("distributed"))
    assert distributed == set(wanted.distributed)
    assert rows["reference (a copy on every node)"] == set(wanted.reference)
    assert set().union(*(names for kind, names in rows.items() if kind.startswith("local"))) == set(
        wanted.local
    )


def test_referenced_tables_are_distributed_before_the_tables_that_reference_them():
    """Citus keeps a foreign key between distributed tables only if the referenced one is
    distributed first."""
    references = [("messages", "campaigns"), ("clicks", "messages"), ("messages", "customers")]
    ordered = citus._referenced_first(["clicks", "messages", "customers", "campaigns"], references)
    assert ordered == ("campaigns", "customers", "messages", "clicks")


def test_every_shop_owned_table_is_distributed_by_shop_id_and_co_located(on_citus):
    """On the cluster: shop-owned tables hash-distributed by shop_id in one co-location group,
    shops a reference table, the inbox (and alembic_version) plain tables of the coordinator."""
    with _connect(on_citus) as conn:
        wanted = citus.placement(conn)
        placed = {name: rest for name, *rest in conn.execute(_HOW_PLACED)}
    distributed = {name: rest for name, rest in placed.items() if rest[0] == "h"}
    assert set(distributed) == set(wanted.distributed) and len(distributed) >= 17
    assert {column for *_, column in distributed.values()} == {"shop_id"}
    assert len({colocation for _, _, colocation, _ in distributed.values()}) == 1
    assert [(name, rest[:2]) for name, rest in placed.items() if rest[0] != "h"] == [("shops", ["n", "t"])]
    assert not set(wanted.local) & set(placed)


def test_distribute_twice_changes_nothing(on_citus):
    """The step is idempotent: `flask db distribute` after `db upgrade` finds nothing to do."""
    with _connect(on_citus) as conn:
        before = conn.execute(_HOW_PLACED).fetchall()
        citus.distribute(conn)
        assert sorted(conn.execute(_HOW_PLACED).fetchall()) == sorted(before)


def test_a_table_a_later_revision_adds_is_distributed_by_the_next_upgrade(on_citus):
    """A shop-owned table created on a distributed database, with its key to shops, as a
    revision creates it (core/migrations/env.py's setting), is distributed by the next
    distribute step, co-located with the others, without naming it anywhere."""
    with _connect(on_citus) as conn:
        with conn.transaction():
            conn.execute("SET LOCAL citus.enable_local_reference_table_foreign_keys = off")
            conn.execute(
                "CREATE TABLE shop_notes (shop_id bigint REFERENCES shops (id) ON DELETE CASCADE,"
                " id bigint GENERATED BY DEFAULT AS IDENTITY, PRIMARY KEY (shop_id, id))"
            )
        try:
            assert "shop_notes" in citus.distribute(conn).distributed
            groups = conn.execute(
                "SELECT DISTINCT colocationid FROM pg_dist_partition WHERE partmethod = 'h'"
            ).fetchall()
            assert len(groups) == 1
        finally:
            conn.execute("DROP TABLE shop_notes")


def test_a_new_database_on_the_cluster_knows_the_nodes(on_citus, service_urls):
    """Citus keeps its metadata per database: the database made for this test run registers
    the coordinator and the workers that the server's maintenance database knows."""
    with _connect(on_citus) as conn:
        nodes = conn.execute(_NODES).fetchall()
    with psycopg.connect(libpq_url(service_urls["server_url"], "postgres")) as conn:
        assert nodes == conn.execute(_NODES).fetchall()
    assert [group for *_, group in nodes] == [0, 1, 2]  # the coordinator and two workers


def test_a_multi_shard_statement_of_a_hot_path_is_reported(on_citus, citus_plans, sql_guard):
    """The plan check can fail: a statement that a hot path runs across every shop is planned
    on every shard and reported; the same statement naming its shop is one task."""
    engine = get_engine(on_citus)
    code = compile(
        "def claim_batch(conn, statement):\n    conn.execute(text(statement))\n",
        str(ROOT / "core" / "dispatch" / "claim.py"),  # the hot path's file and function name
        "exec",
    )
    namespace = {"text": text}
    exec(code, namespace)
    with engine.connect() as conn:
        for condition in ("", "shop_id = 7 AND "):
            namespace["claim_batch"](conn, f"SELECT count(*) FROM messages WHERE {condition}status = 'sent'")
    found = citus_plans.multi_shard(on_citus)  # taken, so this test itself passes
    [unscoped] = sql_guard.take()  # the statement check sees it too
    with _connect(on_citus) as conn:
        shards = conn.execute("SELECT count(*) FROM pg_dist_shard WHERE logicalrelid = 'messages'::regclass")
        [[shard_count]] = shards.fetchall()
    assert [(f.kept.path, f.kept.statement, f.tasks) for f in found] == [
        ("core/dispatch/claim.py:claim_batch", unscoped.statement, [shard_count])
    ]
    assert shard_count > 1
