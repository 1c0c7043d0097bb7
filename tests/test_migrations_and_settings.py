"""The schema comes from Alembic migrations that match the models; settings fail loudly."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from core.db import normalise_url
from core.models import Base
from core.ops.migrate import fresh_database
from core.settings import SECRET_PLACEHOLDERS, SettingsError, get_settings, load_settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def empty_database(service_urls):
    with fresh_database(service_urls["server_url"], "test_empty", migrated=False) as url:
        yield url


def _flask(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "web", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.smoke
@pytest.mark.citus
def test_db_upgrade_builds_an_empty_database_and_is_idempotent(empty_database):
    """`flask --app web db upgrade` on an empty database creates every table; twice is fine."""
    env = {**os.environ, "DATABASE_URL": empty_database}
    for _ in range(2):
        result = _flask("db", "upgrade", env=env)
        assert result.returncode == 0, result.stderr
    engine = create_engine(normalise_url(empty_database))
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {"shops", "customers", "campaigns", "messages", "inbox_events", "clicks"} <= tables


@pytest.mark.citus
def test_models_match_the_migrations(service_urls):
    """Autogenerate against the migrated test database finds nothing to add: the models and
    the migrations describe the same schema (indexes and constraints included)."""
    engine = create_engine(normalise_url(service_urls["database_url"]))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_server_default": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_the_hot_path_indexes_exist(service_urls):
    """The indexes the hot paths need are there, by name."""
    engine = create_engine(normalise_url(service_urls["database_url"]))
    try:
        inspector = inspect(engine)
        messages = {ix["name"] for ix in inspector.get_indexes("messages")}
        uniques = {uc["name"] for uc in inspector.get_unique_constraints("messages")}
        inbox = {ix["name"] for ix in inspector.get_indexes("inbox_events")}
        inbox_uniques = {uc["name"] for uc in inspector.get_unique_constraints("inbox_events")}
    finally:
        engine.dispose()
    assert "uq_messages_shop_id_wamid" in uniques
    assert {
        "ix_messages_shop_id_campaign_id_status_id",
        "ix_messages_shop_id_campaign_id_error_code_id",
    } <= messages
    assert "uq_inbox_events_source_digest" in inbox_uniques
    assert "ix_inbox_events_unprocessed" in inbox


def test_production_refuses_to_start_without_its_secrets():
    """A production start names every missing variable instead of running on placeholders."""
    with pytest.raises(SettingsError) as error:
        load_settings({"APP_ENV": "production", "SHOPIFY_API_KEY": "key"})
    message = str(error.value)
    for name in ("SHOPIFY_API_SECRET", "META_APP_SECRET", "META_VERIFY_TOKEN", "DATABASE_URL", "REDIS_URL"):
        assert name in message
    assert "SHOPIFY_API_KEY" not in message


def test_production_starts_when_everything_is_given():
    """With every secret and both URLs, production settings load and keep the given values."""
    env = {name: f"real-{name.lower()}" for name in SECRET_PLACEHOLDERS}
    env["TOKEN_ENCRYPTION_KEY"] = SECRET_PLACEHOLDERS["TOKEN_ENCRYPTION_KEY"]
    env.update(APP_ENV="production", DATABASE_URL="postgresql://db/app", REDIS_URL="redis://r:6379/0")
    settings = load_settings(env)
    assert settings.is_production and settings.shopify_api_secret == "real-shopify_api_secret"
    assert "real-shopify_api_secret" not in repr(settings)  # secrets stay out of logs


def test_gunicorn_production_start_names_the_missing_variable():
    """The production app factory, as gunicorn calls it, fails at start-up naming what is missing."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_PLACEHOLDERS}
    env.update(APP_ENV="production")
    result = subprocess.run(
        [sys.executable, "-c", "from web import create_app; create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "SHOPIFY_API_SECRET" in result.stderr and "META_APP_SECRET" in result.stderr


@pytest.mark.parametrize(
    "bad", [{"APP_ENV": "staging"}, {"META_MESSAGES_PER_SECOND": "5000"}, {"MESSAGE_TTL_DAYS": "thirty"}]
)
def test_bad_settings_name_the_variable(bad):
    """A wrong value is refused with the variable's name."""
    with pytest.raises(SettingsError, match=next(iter(bad))):
        load_settings(bad)


def test_get_settings_answers_the_apps_settings_inside_it_and_the_environments_outside(
    service_urls, monkeypatch
):
    """Inside an app's context get_settings() is that app's (with create_app's overrides);
    outside, it follows the environment, so building an app or changing a variable leaves
    nothing to undo."""
    from web import create_app

    app = create_app({"APP_ENV": "test", "MESSAGE_TTL_DAYS": "7"})
    with app.app_context():
        assert get_settings() is app.config["SETTINGS"] and get_settings().message_ttl_days == 7
    assert get_settings().message_ttl_days == 30
    monkeypatch.setenv("MESSAGE_TTL_DAYS", "12")
    assert get_settings().message_ttl_days == 12
