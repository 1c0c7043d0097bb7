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


def _production_environment() -> dict[str, str]:
    """Every secret set to a value of its own (none a placeholder), and both URLs."""
    from cryptography.fernet import Fernet

    env = {name: f"real-{name.lower()}" for name in SECRET_PLACEHOLDERS}
    env["TOKEN_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    env.update(APP_ENV="production", DATABASE_URL="postgresql://db/app", REDIS_URL="redis://r:6379/0")
    return env


def test_production_starts_when_everything_is_given():
    """With every secret and both URLs, production settings load and keep the given values."""
    settings = load_settings(_production_environment())
    assert settings.is_production and settings.shopify_api_secret == "real-shopify_api_secret"
    assert "real-shopify_api_secret" not in repr(settings)  # secrets stay out of logs


PREVIOUS_OF = {
    "SHOPIFY_API_SECRET_PREVIOUS": "SHOPIFY_API_SECRET",
    "FLASK_SECRET_KEY_PREVIOUS": "FLASK_SECRET_KEY",
}


@pytest.mark.parametrize("name", [*SECRET_PLACEHOLDERS, *PREVIOUS_OF])
def test_production_refuses_a_placeholder_even_when_it_is_set(name):
    """A public development placeholder copied into production (a current or a previous
    secret) is refused, naming the variable."""
    env = _production_environment()
    env[name] = SECRET_PLACEHOLDERS[PREVIOUS_OF.get(name, name)]
    with pytest.raises(SettingsError, match=name) as error:
        load_settings(env)
    assert "placeholder" in str(error.value)


def test_production_refuses_the_placeholder_among_several_encryption_keys():
    """The development Fernet key is refused in production even as an older, decrypt-only key."""
    env = _production_environment()
    env["TOKEN_ENCRYPTION_KEY"] += "," + SECRET_PLACEHOLDERS["TOKEN_ENCRYPTION_KEY"]
    with pytest.raises(SettingsError, match="TOKEN_ENCRYPTION_KEY"):
        load_settings(env)


@pytest.mark.parametrize("app_env", [None, "", " "])
def test_without_an_explicit_environment_no_placeholder_is_used(app_env):
    """With APP_ENV unset (or blank), a missing secret is refused, naming each one and how to
    run on the development placeholders; nothing falls back to a public value."""
    env = {} if app_env is None else {"APP_ENV": app_env}
    with pytest.raises(SettingsError) as error:
        load_settings(env)
    message = str(error.value)
    for name in SECRET_PLACEHOLDERS:
        assert name in message
    assert "APP_ENV=development" in message


@pytest.mark.parametrize("app_env", ["development", "test"])
def test_an_explicit_development_or_test_environment_runs_on_placeholders(app_env):
    """APP_ENV=development or test, set explicitly, may run on the development placeholders."""
    settings = load_settings({"APP_ENV": app_env})
    assert settings.app_env == app_env
    assert settings.flask_secret_key == SECRET_PLACEHOLDERS["FLASK_SECRET_KEY"]


def test_without_an_explicit_environment_given_secrets_run_as_development():
    """With APP_ENV unset and every secret given, the app starts, in development (CONTRACT)."""
    env = {k: v for k, v in _production_environment().items() if k != "APP_ENV"}
    settings = load_settings(env)
    assert settings.app_env == "development" and settings.shopify_api_secret == "real-shopify_api_secret"


def test_an_app_started_without_app_env_or_secrets_names_what_is_missing():
    """The app factory, as gunicorn calls it, with neither APP_ENV nor secrets, fails at start-up
    naming the secrets instead of signing with public placeholders."""
    env = {k: v for k, v in os.environ.items() if k not in SECRET_PLACEHOLDERS and k != "APP_ENV"}
    result = subprocess.run(
        [sys.executable, "-c", "from web import create_app; create_app()"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "FLASK_SECRET_KEY" in result.stderr and "APP_ENV=development" in result.stderr


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
