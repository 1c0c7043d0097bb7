"""Database engine and sessions, made lazily from the settings' ``DATABASE_URL``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings

_engines: dict[str, Engine] = {}


def normalise_url(url: str) -> str:
    """Use psycopg 3 whatever spelling of the PostgreSQL scheme the environment gives."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def get_engine(url: str | None = None) -> Engine:
    url = normalise_url(url or _configured_url())
    engine = _engines.get(url)
    if engine is None:
        engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        _engines[url] = engine
    return engine


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
