"""Run Alembic migrations programmatically (``flask --app web db upgrade``, tests), and make the
fresh databases tests and benchmarks run on. On a Citus coordinator (the database has the
extension) both also place the tables on the nodes (core/ops/citus.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from core.db import get_engine, libpq_url, normalise_url
from core.ops import citus
from core.settings import PROJECT_ROOT, get_settings


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "core" / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    """Migrate to ``revision``; on Citus, then distribute (idempotent, like the migrations)."""
    command.upgrade(alembic_config(database_url), revision)
    distribute(database_url)


def distribute(database_url: str | None = None) -> citus.Placement | None:
    """Place the tables on the Citus nodes when the database has Citus; None when it has not."""
    with _connect(database_url) as conn:
        if not citus.has_citus(conn):
            return None
        return citus.distribute(conn)


def distributed_table_count(database_url: str | None = None) -> int:
    """How many tables Citus distributes in the database, as pg_dist_partition says."""
    with _connect(database_url) as conn:
        return citus.distributed_table_count(conn)


def _connect(database_url: str | None) -> psycopg.Connection:
    return psycopg.connect(libpq_url(database_url or get_settings().database_url), autocommit=True)


@contextmanager
def fresh_database(server_url: str, prefix: str, *, migrated: bool = True) -> Iterator[str]:
    """Create a database of a unique name on the server of ``server_url``, migrated to head
    unless ``migrated`` is False; yield its URL; drop it at the end, whatever happened.

    The one way tests and benchmarks get a database of their own: unique names let runs share
    a server, and dropping WITH (FORCE) ends the sessions a failed run left behind.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with _admin(server_url) as admin:
        nodes = citus.topology(admin)
        if nodes is None:
            admin.execute(f'CREATE DATABASE "{name}"')
        else:
            citus.create_database(admin, name, nodes)
    url = make_url(normalise_url(server_url)).set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            upgrade(url)
        yield url
    finally:
        get_engine(url).dispose()
        with _admin(server_url) as admin:
            if nodes is None:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            else:
                citus.drop_database(admin, name)


def _admin(server_url: str) -> psycopg.Connection:
    """The server's maintenance database: on Citus, the one whose metadata names the nodes."""
    return psycopg.connect(libpq_url(server_url, "postgres"), autocommit=True)
