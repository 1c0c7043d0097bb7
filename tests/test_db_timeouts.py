"""Every database connection has a connect timeout and a statement timeout, so a stuck server
or a runaway query cannot hold a request or a job forever."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from core.db import get_engine


@pytest.fixture
def short_timeouts(monkeypatch, service_urls):
    """Settings with a 1-second statement timeout and a 3-second connect timeout, and an engine
    of its own (another application_name, so not the cached one of the suite)."""
    monkeypatch.setenv("DATABASE_STATEMENT_TIMEOUT_S", "1")
    monkeypatch.setenv("DATABASE_CONNECT_TIMEOUT_S", "3")
    url = make_url(service_urls["database_url"]).update_query_dict({"application_name": "timeouts"})
    yield get_engine(url.render_as_string(hide_password=False))


def test_a_statement_over_the_timeout_is_cancelled(short_timeouts):
    """A query running past DATABASE_STATEMENT_TIMEOUT_S is cancelled by the server."""
    with short_timeouts.connect() as connection, pytest.raises(OperationalError, match="statement timeout"):
        connection.execute(text("SELECT pg_sleep(5)"))


def test_connections_carry_both_timeouts(short_timeouts):
    """The server sees the statement timeout; the client connects with a connect timeout."""
    with short_timeouts.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar() == "1s"
        parameters = connection.connection.driver_connection.info.get_parameters()
    assert parameters.get("connect_timeout") == "3"


def test_the_defaults_bound_every_connection(service_urls):
    """Without settings, connections still have a connect timeout and a statement timeout."""
    with get_engine().connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar() not in ("0", "0ms")
        assert connection.connection.driver_connection.info.get_parameters().get("connect_timeout")
