"""Database engine and sessions, made lazily from the settings' ``DATABASE_URL``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings

_engines: dict[str, Engine] = {}


def normalise_url(url: str) -> str:
    """Use psycopg 3 whatever spelling of the PostgreSQL scheme the environment gives."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def libpq_url(url: str, database: str | None = None) -> str:
    """Return ``url`` as libpq (and so plain psycopg) spells it, optionally naming another database."""
    parsed = make_url(normalise_url(url)).set(drivername="postgresql")
    if database is not None:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


def get_engine(url: str | None = None) -> Engine:
    """Return the process's engine for ``url`` (the configured database by default)."""
    url = normalise_url(url or _configured_url())
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = _fork_safe_engine(url)
    return engine


def _fork_safe_engine(url: str) -> Engine:
    # The pool's own rollback-on-return is replaced by one that runs only in the process that
    # opened the connection: a checked-out connection whose last reference goes in a forked child
    # (an RQ work horse) would otherwise send a ROLLBACK over the parent's socket and wait for
    # an answer that the parent reads instead.
    engine = create_engine(
        url,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        pool_reset_on_return=None,
        connect_args=connection_timeouts(),
        # A statement's values are customers' numbers and names: an error's text (logged, or in
        # a job's traceback) names the statement, never its values.
        hide_parameters=True,
    )
    event.listen(engine, "connect", _remember_opening_process)
    event.listen(engine, "reset", _rollback_in_opening_process)
    return engine


def connection_timeouts() -> dict:
    """A server that does not answer fails the connect within the connect timeout, and any one
    statement is cancelled by the server past the statement timeout (0: none)."""
    settings = get_settings()
    statement_ms = settings.database_statement_timeout_s * 1000
    return {
        "connect_timeout": settings.database_connect_timeout_s,
        "options": f"-c statement_timeout={statement_ms}",
    }


def _remember_opening_process(dbapi_connection, connection_record) -> None:
    connection_record.info["pid"] = os.getpid()


def _rollback_in_opening_process(dbapi_connection, connection_record, reset_state) -> None:
    if connection_record is not None and connection_record.info.get("pid") != os.getpid():
        return
    if reset_state.asyncio_safe and not reset_state.transaction_was_reset:
        dbapi_connection.rollback()  # what the pool's default reset would do


def _configured_url() -> str:
    url = get_settings().database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set and no embedded server was started")
    return url


_sessionmakers: dict[Engine, sessionmaker[Session]] = {}


def session_factory(engine: Engine | None = None) -> sessionmaker[Session]:
    engine = engine or get_engine()
    factory = _sessionmakers.get(engine)
    if factory is None:
        factory = sessionmaker(engine, expire_on_commit=False)
        _sessionmakers[engine] = factory
    return factory


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back if it raises."""
    with session_factory()() as session, session.begin():
        yield session


def _forget_pools_in_child() -> None:
    # A forked child (RQ work horse, gunicorn worker) must not reuse the parent's sockets:
    # two processes speaking on one PostgreSQL connection corrupt each other's replies.
    for engine in _engines.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_pools_in_child)
