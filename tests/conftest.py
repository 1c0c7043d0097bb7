"""Test fixtures in the spirit of Flask's tutorial: ``app``, ``client``, ``runner``.

Real parts only: a database of its own for this test session (a unique name, so runs can go
in parallel) created and migrated on the PostgreSQL server of ``DATABASE_URL``, a Redis
database of its own cleaned before each test, and jobs run by a real RQ worker in burst mode.
With no ``DATABASE_URL`` / ``REDIS_URL`` the embedded servers are started, as for ``make run``.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
import pytest
from sqlalchemy import text

from core.db import get_engine, libpq_url
from core.models import Base
from core.ops.citus import has_citus
from core.ops.embedded import ensure_services
from core.ops.migrate import fresh_database
from core.redis import get_redis
from tests.citus_plans import PlanRecorder
from tests.citus_refusals import RefusalRecorder
from tests.factories import Factories
from tests.meta_stand_in import _meta_process, meta  # noqa: F401  (fixtures)
from tests.rate_cards import rate_cards  # noqa: F401  (fixture)
from tests.shopify_stand_in import UNREACHABLE_SHOPIFY, _shopify_process, shopify  # noqa: F401  (fixtures)
from tests.sql_guard import SqlGuard

# Tests run in the test environment, said explicitly: only then may the settings use the public
# development placeholders (core/settings.py), for this process and every process it starts.
os.environ["APP_ENV"] = "test"


def _redis_url_with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query)) | {"db": str(db)}
        return f"unix://{parts.path}?{urlencode(query)}"  # urlunsplit would drop the "//"
    return urlunsplit(parts._replace(path=f"/{db}"))


def _redis_db() -> int:
    """A Redis database of this run's own: TEST_REDIS_DB when set (several suites sharing one
    server), otherwise one per xdist worker."""
    if os.environ.get("TEST_REDIS_DB"):
        return int(os.environ["TEST_REDIS_DB"])
    return 1 + int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 15


@pytest.fixture(scope="session")
def service_urls():
    """DATABASE_URL of a fresh, migrated database and REDIS_URL of a Redis database, both for
    this session alone; exported to the environment so jobs and CLI commands use them too."""
    ensure_services(os.environ)
    server_url = os.environ["DATABASE_URL"]
    redis_url = _redis_url_with_db(os.environ["REDIS_URL"], _redis_db())
    with fresh_database(server_url, "test") as database_url, pytest.MonkeyPatch.context() as patch:
        for name, value in dict(DATABASE_URL=database_url, REDIS_URL=redis_url, APP_ENV="test").items():
            patch.setenv(name, value)
        # Tests never reach the real Shopify: unless a test starts the stand-in (tests/shopify_stand_in.py),
        # the Admin API is a loopback port where nothing listens, so a page load's token exchange
        # fails at once, as it would with Shopify down.
        patch.setenv("SHOPIFY_ADMIN_URL", UNREACHABLE_SHOPIFY)
        yield {"database_url": database_url, "redis_url": redis_url, "server_url": server_url}


@pytest.fixture(scope="session")
def sql_guard():
    """The shard-key check of every statement the app executes (tests/sql_guard.py)."""
    guard = SqlGuard()
    guard.install()
    yield guard
    guard.remove()


@pytest.fixture(autouse=True)
def _statements_name_their_shop(sql_guard):
    """Fail the test when the app ran a statement on a shop-owned table without its shop_id."""
    sql_guard.take()
    yield
    found = sql_guard.take()
    if found:
        pytest.fail("statements that would span every shard:\n" + "\n".join(map(str, found)), pytrace=False)


@pytest.fixture(scope="session")
def citus_plans(service_urls):
    """On a Citus coordinator, the recorder of the hot paths' statements (tests/citus_plans.py);
    None on a plain PostgreSQL."""
    with psycopg.connect(libpq_url(service_urls["database_url"])) as conn:
        on_citus = has_citus(conn)
    if not on_citus:
        yield None
        return
    recorder = PlanRecorder()
    recorder.install()
    yield recorder
    recorder.remove()


@pytest.fixture(autouse=True)
def _hot_paths_run_on_one_shard(citus_plans, service_urls):
    """On Citus, fail the test when a hot path ran a statement Citus plans on several shards."""
    if citus_plans is None:
        yield
        return
    citus_plans.take()
    yield
    found = citus_plans.multi_shard(service_urls["database_url"])
    if found:
        found_text = "\n".join(map(str, found))
        pytest.fail(f"hot-path statements that span shards on Citus:\n{found_text}", pytrace=False)


@pytest.fixture(scope="session")
def citus_refusals(citus_plans):
    """On a Citus coordinator, the recorder of the statements it refused
    (tests/citus_refusals.py); None on a plain PostgreSQL."""
    if citus_plans is None:
        yield None
        return
    recorder = RefusalRecorder()
    recorder.install()
    yield recorder
    recorder.remove()


@pytest.fixture(autouse=True)
def _nothing_refused_by_citus(citus_refusals):
    """On Citus, fail the test when the coordinator refused one of its statements, caught or not."""
    if citus_refusals is None:
        yield
        return
    citus_refusals.take()
    yield
    found = citus_refusals.take()
    if found:
        pytest.fail("statements Citus refused:\n" + "\n".join(map(str, found)), pytrace=False)


@pytest.fixture(autouse=True)
def _clean_state(request, service_urls):
    """Each test starts with empty tables and an empty Redis database."""
    get_redis(service_urls["redis_url"]).flushdb()
    yield
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with get_engine(service_urls["database_url"]).begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app(service_urls):
    from web import create_app

    return create_app({"APP_ENV": "test", "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(service_urls) -> Factories:
    """Factories that write shops, customers, campaigns and messages straight to the database."""
    return Factories(get_engine(service_urls["database_url"]))


@pytest.fixture
def run_jobs(service_urls):
    """Run every queued (and due) RQ job with a real worker in burst mode."""
    from jobs.worker import run_worker

    def run() -> None:
        run_worker(burst=True, name=f"test-{uuid.uuid4().hex[:8]}")

    return run
