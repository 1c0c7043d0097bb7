"""One SQLAlchemy session per request, closed when the request ends."""

from __future__ import annotations

from flask import Flask, g
from sqlalchemy.orm import Session

from core.db import session_factory


def db() -> Session:
    if "db_session" not in g:
        g.db_session = session_factory()()
    return g.db_session


def release_transaction() -> None:
    """End the request's transaction before it waits on another service (Meta, Shopify): a
    connection left idle in a transaction for as long as they take holds its snapshot and locks
    and a pool slot. Only ever called before the request writes anything; loaded objects stay
    usable (the sessions do not expire on commit)."""
    session = g.get("db_session")
    if session is not None and session.in_transaction():
        session.commit()


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    app.teardown_appcontext(_close_session)
