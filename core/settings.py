"""One typed settings object, read from the environment.

Development and test runs get placeholder secrets so a newcomer can start the app with no
configuration, but only when APP_ENV says so explicitly (``make run`` and the tests set it): the
placeholders are public, so an app started with APP_ENV unset and a secret missing refuses to
start. A production start refuses to run without the real ones, names what is missing, and
refuses a placeholder copied into its environment.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENVIRONMENTS = ("development", "test", "production")

# Secrets that production must be given. Each has a development-only placeholder.
SECRET_PLACEHOLDERS = {
    "SHOPIFY_API_KEY": "dev-shopify-api-key",
    "SHOPIFY_API_SECRET": "dev-only-shopify-api-secret-not-for-production",
    "META_APP_SECRET": "dev-only-meta-app-secret-not-for-production",
    "META_VERIFY_TOKEN": "dev-meta-verify-token",
    # Fernet key (urlsafe base64 of 32 bytes) for access tokens at rest.
    "TOKEN_ENCRYPTION_KEY": "ZGV2LW9ubHktdG9rZW4tZW5jcnlwdGlvbi1rZXktMzI=",
    "FLASK_SECRET_KEY": "dev-flask-secret-key",
}


# Every environment variable the settings read; create_app(config) may override any of them.
ENV_VARIABLES = (
    "APP_ENV",
    "DATABASE_URL",
    "REDIS_URL",
    "SHOPIFY_API_VERSION",
    "SHOPIFY_ADMIN_URL",
    "SHOPIFY_APP_URL",
    "APP_URL",
    "META_GRAPH_URL",
    "META_API_VERSION",
    "INSTANCE_PATH",
    "MESSAGE_TTL_DAYS",
    "META_MESSAGES_PER_SECOND",
    "DEV_SESSION_TOKENS",
    "DATABASE_CONNECT_TIMEOUT_S",
    "DATABASE_STATEMENT_TIMEOUT_S",
    "SHOPIFY_API_SECRET_PREVIOUS",
    "FLASK_SECRET_KEY_PREVIOUS",
    "META_APP_ID",
    "META_CONFIG_ID",
    *SECRET_PLACEHOLDERS,
)


class SettingsError(RuntimeError):
    """The environment cannot make a valid settings object; the message names the variable."""


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {value}")
    return value


@dataclass(frozen=True)
class Settings:
    app_env: str = "development"
    database_url: str | None = None
    redis_url: str | None = None
    shopify_api_key: str = SECRET_PLACEHOLDERS["SHOPIFY_API_KEY"]
    shopify_api_secret: str = field(default=SECRET_PLACEHOLDERS["SHOPIFY_API_SECRET"], repr=False)
    # During a client secret rotation Shopify may sign with the old secret for an hour.
    shopify_api_secret_previous: str | None = field(default=None, repr=False)
    shopify_api_version: str = "2026-10"
    shopify_admin_url: str | None = None  # the Shopify stand-in in development; None = the shop itself
    shopify_app_url: str | None = None  # the app's public URL: tracked links are {it}/r/<token>
    meta_app_secret: str = field(default=SECRET_PLACEHOLDERS["META_APP_SECRET"], repr=False)
    meta_verify_token: str = field(default=SECRET_PLACEHOLDERS["META_VERIFY_TOKEN"], repr=False)
    meta_graph_url: str = "https://graph.facebook.com"
    meta_api_version: str = "v25.0"
    token_encryption_key: str = field(default=SECRET_PLACEHOLDERS["TOKEN_ENCRYPTION_KEY"], repr=False)
    flask_secret_key: str = field(default=SECRET_PLACEHOLDERS["FLASK_SECRET_KEY"], repr=False)
    # During a rotation of FLASK_SECRET_KEY: tracked links already sent were made with it.
    flask_secret_key_previous: str | None = field(default=None, repr=False)
    instance_path: Path = PROJECT_ROOT / "instance"
    message_ttl_days: int = 30
    default_messages_per_second: int = 80
    database_connect_timeout_s: int = 10
    database_statement_timeout_s: int = 120  # 0: none (migrations lift it themselves)
    # `make run`'s explicit opt-in (core/ops/devstack.py): mint session tokens for a plain browser.
    dev_session_tokens: bool = False
    # Meta app id and Embedded Signup configuration id: both set, the Settings page offers
    # "Connect with Facebook" (the code exchange also needs META_APP_SECRET).
    meta_app_id: str | None = None
    meta_config_id: str | None = None

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def shopify_api_secrets(self) -> tuple[str, ...]:
        """The secrets a Shopify signature may use: the current one, then the previous one."""
        previous = self.shopify_api_secret_previous
        return (self.shopify_api_secret, previous) if previous else (self.shopify_api_secret,)

    @property
    def flask_secret_keys(self) -> tuple[str, ...]:
        """The secrets a tracked link may be made with: the current one, then the previous one."""
        previous = self.flask_secret_key_previous
        return (self.flask_secret_key, previous) if previous else (self.flask_secret_key,)

    @property
    def embedded_signup_offered(self) -> bool:
        return bool(self.meta_app_id and self.meta_config_id)

    @property
    def may_mint_dev_tokens(self) -> bool:
        """Only `make run`'s development stack mints its own session tokens (see web/dev.py).

        APP_ENV=development alone is not enough: Shopify's CLI sets it for `shopify app dev`,
        whose public tunnel delivers every internet request from 127.0.0.1."""
        return self.app_env == "development" and self.dev_session_tokens


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from ``env`` (the process environment by default)."""
    env = os.environ if env is None else env
    declared = env.get("APP_ENV", "").strip()
    app_env = declared or "development"
    if app_env not in ENVIRONMENTS:
        raise SettingsError(f"APP_ENV must be one of {', '.join(ENVIRONMENTS)}, got {app_env!r}")
    # Values checked before secrets, so a bad one is named whatever else is missing.
    numbers = {
        "message_ttl_days": _int(env, "MESSAGE_TTL_DAYS", 30, 1, 365),
        "default_messages_per_second": _int(env, "META_MESSAGES_PER_SECOND", 80, 1, 1000),
        "database_connect_timeout_s": _int(env, "DATABASE_CONNECT_TIMEOUT_S", 10, 1, 300),
        "database_statement_timeout_s": _int(env, "DATABASE_STATEMENT_TIMEOUT_S", 120, 0, 86_400),
    }
    # The placeholders are public: only an environment that says it is development or test
    # may run on them. APP_ENV left unset still means development for everything else.
    secrets = _secrets(
        env, production=app_env == "production", placeholders_allowed=declared in ("development", "test")
    )
    return Settings(
        app_env=app_env,
        database_url=env.get("DATABASE_URL") or None,
        redis_url=env.get("REDIS_URL") or None,
        shopify_api_key=secrets["SHOPIFY_API_KEY"],
        shopify_api_secret=secrets["SHOPIFY_API_SECRET"],
        shopify_api_secret_previous=env.get("SHOPIFY_API_SECRET_PREVIOUS", "").strip() or None,
        shopify_api_version=env.get("SHOPIFY_API_VERSION") or Settings.shopify_api_version,
        shopify_admin_url=env.get("SHOPIFY_ADMIN_URL") or None,
        # `shopify app dev` hands the web processes it starts its tunnel as APP_URL, not as
        # SHOPIFY_APP_URL: tracked links and return URLs follow the tunnel under the CLI.
        shopify_app_url=(env.get("SHOPIFY_APP_URL") or env.get("APP_URL") or "").rstrip("/") or None,
        meta_app_secret=secrets["META_APP_SECRET"],
        meta_verify_token=secrets["META_VERIFY_TOKEN"],
        meta_graph_url=(env.get("META_GRAPH_URL") or Settings.meta_graph_url).rstrip("/"),
        meta_api_version=env.get("META_API_VERSION") or Settings.meta_api_version,
        token_encryption_key=_fernet_keys(secrets["TOKEN_ENCRYPTION_KEY"]),
        flask_secret_key=secrets["FLASK_SECRET_KEY"],
        flask_secret_key_previous=env.get("FLASK_SECRET_KEY_PREVIOUS", "").strip() or None,
        instance_path=Path(env.get("INSTANCE_PATH") or PROJECT_ROOT / "instance"),
        dev_session_tokens=env.get("DEV_SESSION_TOKENS", "").strip() == "1",
        **numbers,
        meta_app_id=env.get("META_APP_ID", "").strip() or None,
        meta_config_id=env.get("META_CONFIG_ID", "").strip() or None,
    )


def _fernet_keys(value: str) -> str:
    """Check TOKEN_ENCRYPTION_KEY at start: one or more comma-separated Fernet keys (urlsafe
    base64 of 32 bytes). A bad key would otherwise surface at the first token stored or read."""
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        raise SettingsError("TOKEN_ENCRYPTION_KEY must hold at least one Fernet key")
    for n, key in enumerate(keys, start=1):
        try:
            if len(base64.urlsafe_b64decode(key.encode())) != 32:
                raise ValueError
        except (ValueError, binascii.Error):
            raise SettingsError(
                f"TOKEN_ENCRYPTION_KEY: key {n} is not a Fernet key (urlsafe base64 of 32 bytes; "
                "make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from None
    return ",".join(keys)


def _secrets(env: Mapping[str, str], *, production: bool, placeholders_allowed: bool) -> dict[str, str]:
    """Each secret as set; where one is missing, its placeholder, only in an explicit
    development or test environment. Production also refuses placeholders that are set."""
    values = {}
    missing = []
    for name, placeholder in SECRET_PLACEHOLDERS.items():
        value = env.get(name, "")
        if value:
            values[name] = value
        elif placeholders_allowed and not production:
            values[name] = placeholder
        else:
            missing.append(name)
    # Production never starts embedded servers: it must be told where its database and Redis are.
    if production:
        missing += [name for name in ("DATABASE_URL", "REDIS_URL") if not env.get(name)]
    if missing and production:
        raise SettingsError("production start refused: set " + ", ".join(missing) + " in the environment")
    if missing:
        raise SettingsError(
            "set " + ", ".join(missing) + " in the environment, or set APP_ENV=development (or test) "
            "to run on the public development placeholders"
        )
    if production and (copied := _placeholders_in(env)):
        raise SettingsError(
            "production start refused: " + ", ".join(copied) + " holds a public development placeholder; "
            "set a secret of your own"
        )
    return values


# Each variable production checks for a placeholder, and whose placeholder it must not hold:
# its own, or for a previous secret during a rotation, the current secret's.
_PLACEHOLDER_OF = {
    **{name: name for name in SECRET_PLACEHOLDERS},
    "SHOPIFY_API_SECRET_PREVIOUS": "SHOPIFY_API_SECRET",
    "FLASK_SECRET_KEY_PREVIOUS": "FLASK_SECRET_KEY",
}


def _placeholders_in(env: Mapping[str, str]) -> list[str]:
    """The variables of ``env`` that hold a development placeholder (one key among several
    encryption keys included)."""
    return [
        name
        for name, placeholder_of in _PLACEHOLDER_OF.items()
        if SECRET_PLACEHOLDERS[placeholder_of] in (part.strip() for part in env.get(name, "").split(","))
    ]


def get_settings() -> Settings:
    """Return the settings in force: inside a Flask app context, the app's (``create_app`` built
    them, with its overrides); anywhere else (jobs, scripts), the process environment's.

    The one way to read settings, so that core code and web code in the same request agree, and
    a test that builds an app with other settings, or changes the environment, undoes nothing.
    """
    flask = sys.modules.get("flask")  # not imported: no app, and core need not load Flask
    if flask is not None and flask.has_app_context() and "SETTINGS" in flask.current_app.config:
        return flask.current_app.config["SETTINGS"]
    return _settings_of(tuple(os.environ.get(name) for name in ENV_VARIABLES))


@functools.lru_cache(maxsize=8)
def _settings_of(values: tuple[str | None, ...]) -> Settings:
    """Settings for these values of ENV_VARIABLES, parsed once."""
    return load_settings(
        {name: value for name, value in zip(ENV_VARIABLES, values, strict=True) if value is not None}
    )
