"""A scratch world for a benchmark: its own freshly migrated database on the PostgreSQL server
of ``DATABASE_URL`` (the embedded server when unset), a Redis database emptied for it, and the
Meta stand-in as a real server process. Everything is removed afterwards."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import requests
from sqlalchemy.engine import make_url

from core.db import get_engine, normalise_url
from core.settings import load_settings, use_settings

ROOT = Path(__file__).resolve().parent.parent


def _libpq(url: str, database: str) -> str:
    return (
        make_url(normalise_url(url)).set(drivername="postgresql", database=database).render_as_string(False)
    )


def _redis_db_url(url: str) -> str:
    """BENCH_REDIS_DB (or TEST_REDIS_DB) picks the database on a shared server; it is emptied."""
    number = os.environ.get("BENCH_REDIS_DB") or os.environ.get("TEST_REDIS_DB")
    parts = urlsplit(url)
    if number is None or parts.scheme == "unix":
        return url
    return urlunsplit(parts._replace(path=f"/{number}"))


@contextmanager
def scratch_services() -> Iterator[dict[str, str]]:
    from core.embedded import ensure_services
    from core.migrate import upgrade
    from core.redis import get_redis

    ensure_services()
    server = os.environ["DATABASE_URL"]
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_libpq(server, "postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL", "APP_ENV")}
    database_url = make_url(normalise_url(server)).set(database=name).render_as_string(hide_password=False)
    os.environ.update(
        DATABASE_URL=database_url, REDIS_URL=_redis_db_url(os.environ["REDIS_URL"]), APP_ENV="test"
    )
    use_settings(load_settings())
    try:
        upgrade(database_url)
        get_redis().flushdb()
        yield {"database_url": database_url, "redis_url": os.environ["REDIS_URL"]}
    finally:
        get_redis().flushdb()
        get_engine(database_url).dispose()
        with psycopg.connect(_libpq(server, "postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        for key, value in saved.items():
            _restore(key, value)


@contextmanager
def meta_stand_in(*args: str) -> Iterator[str]:
    """The stand-in on a free port; META_GRAPH_URL points at it meanwhile."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sim.meta", "--port", "0", *args], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
    saved = os.environ.get("META_GRAPH_URL")
    os.environ["META_GRAPH_URL"] = url
    use_settings(load_settings())
    try:
        requests.get(f"{url}/health", timeout=10).raise_for_status()
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        _restore("META_GRAPH_URL", saved)
        use_settings(load_settings())


def _restore(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value
