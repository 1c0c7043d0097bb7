"""Run Alembic migrations programmatically (``flask --app web db upgrade``, tests), and make the
fresh databases tests and benchmarks run on."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from core.db import get_engine, libpq_url, normalise_url
from core.settings import PROJECT_ROOT


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(PROJECT_ROOT / "core" / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


@contextmanager
def fresh_database(server_url: str, prefix: str, *, migrated: bool = True) -> Iterator[str]:
    """Create a database of a unique name on the server of ``server_url``, migrated to head
    unless ``migrated`` is False; yield its URL; drop it at the end, whatever happened.

    The one way tests and benchmarks get a database of their own: unique names let runs share
    a server, and dropping WITH (FORCE) ends the sessions a failed run left behind.
    """
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(libpq_url(server_url, "postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(normalise_url(server_url)).set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            upgrade(url)
        yield url
    finally:
        get_engine(url).dispose()
        with psycopg.connect(libpq_url(server_url, "postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
