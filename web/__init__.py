"""The Flask app: the embedded app home, the JSON API, webhooks and the CLI commands."""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask

from core.settings import ENV_VARIABLES, load_settings

__all__ = ["create_app"]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``config`` may override any environment variable the settings read
    (``DATABASE_URL``, ``APP_ENV``, ...); other keys go to Flask's config. Nothing connects here:
    connections are made on first use."""
    config = dict(config or {})
    env = dict(os.environ)
    env.update({name: str(config.pop(name)) for name in ENV_VARIABLES if name in config})
    if env.get("APP_ENV") != "production":
        _start_embedded_services(env)
    settings = load_settings(env)  # what get_settings() answers inside this app

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.flask_secret_key,
        SECRET_KEY_FALLBACKS=list(settings.flask_secret_keys[1:]),
        # Meta's webhook bodies reach 3 MB; leave room so the endpoint itself can answer 413.
        MAX_CONTENT_LENGTH=4 * 1024 * 1024,
        SETTINGS=settings,
    )
    app.config.update(config)
    _register(app)
    app.json.sort_keys = False  # after _register, which installs the app's JSON (web/inputs.py)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return app


def _start_embedded_services(env: dict[str, str]) -> None:
    """Outside production, a missing DATABASE_URL or REDIS_URL means: start (or join) the
    embedded server, and publish its URL to this process's environment so that jobs and CLI
    commands run from here agree with the app."""
    if env.get("DATABASE_URL") and env.get("REDIS_URL"):
        return
    from core.ops.embedded import ensure_services

    ensure_services(env)
    for name in ("DATABASE_URL", "REDIS_URL"):
        os.environ[name] = env[name]


def _register(app: Flask) -> None:
    from web import (
        api,
        cli,
        cors,
        database,
        dev,
        errors,
        headers,
        health,
        home,
        inputs,
        pages,
        redirects,
    )
    from web.webhooks import meta as meta_webhooks
    from web.webhooks import shopify as shopify_webhooks

    inputs.init_app(app)  # first: the routes below use its converter
    app.register_blueprint(home.blueprint)
    app.register_blueprint(pages.blueprint)
    app.register_blueprint(api.blueprint, url_prefix="/api")
    app.register_blueprint(dev.blueprint, url_prefix="/dev")
    app.register_blueprint(meta_webhooks.blueprint)
    app.register_blueprint(shopify_webhooks.blueprint)
    app.register_blueprint(redirects.blueprint)
    app.register_blueprint(health.blueprint)
    errors.init_app(app)
    headers.init_app(app)
    cors.init_app(app)
    database.init_app(app)
    cli.init_app(app)
    from web.webhooks.route import ThinMetaWebhooks

    app.wsgi_app = ThinMetaWebhooks(app, app.wsgi_app)  # POST /webhooks/meta
