"""CLI commands: ``flask --app web db upgrade``, ``flask --app web db distribute``, ``flask --app
web seed FILE`` (campaign commands: web/cli/campaigns.py; the webhook inbox's failed events:
web/cli/inbox.py; what Meta billed: web/cli/meta_billing.py)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from core.db import session_scope
from core.ops import migrate, seed
from core.settings import get_settings

__all__ = ["init_app"]  # the flask commands, registered by create_app

db_cli = AppGroup("db", help="Database schema commands.")


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Bring the database at DATABASE_URL to REVISION (the newest by default). Idempotent."""
    migrate.upgrade(get_settings().database_url, revision)
    click.echo(f"database at revision {revision}")


@db_cli.command("distribute")
def db_distribute() -> None:
    """On Citus, distribute every shop-owned table by shop_id (co-located), copy the reference
    tables to every node, keep the local ones on the coordinator. Idempotent; `db upgrade`
    does it too."""
    placement = migrate.distribute(get_settings().database_url)
    if placement is None:
        raise click.ClickException("the database has no Citus extension: nothing to distribute")
    click.echo(f"distributed by shop_id: {', '.join(placement.distributed)}")
    click.echo(f"reference: {', '.join(placement.reference)}; local: {', '.join(placement.local)}")
    click.echo(f"distributed tables: {migrate.distributed_table_count(get_settings().database_url)}")


@click.command("seed")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def seed_command(file: Path) -> None:
    """Load a seed document (CONTRACT.md); creates what is missing, overwrites nothing."""
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise click.ClickException(f"{file} is not JSON: {error}") from None
    try:
        document = seed.parse_document(raw)
    except seed.SeedError as error:
        raise click.ClickException(f"{file} is not a valid seed document:\n{error}") from None
    with session_scope() as session:
        created = seed.load(session, document)
    click.echo("created " + ", ".join(f"{count} {kind}" for kind, count in created.items()))


@click.command("rotate-keys")
def rotate_keys_command() -> None:
    """Re-encrypt every stored token with the first key of TOKEN_ENCRYPTION_KEY; afterwards
    the other keys can be removed."""
    from core.ops.key_rotation import rotate_keys

    with session_scope() as session:
        rotated = rotate_keys(session)
    click.echo(f"re-encrypted {rotated} tokens with the first key")


def init_app(app: Flask) -> None:
    from web.cli import campaigns as cli_campaigns
    from web.cli.inbox import inbox_cli
    from web.cli.meta_billing import meta_billing_command

    app.cli.add_command(db_cli)
    app.cli.add_command(seed_command)
    app.cli.add_command(rotate_keys_command)
    app.cli.add_command(inbox_cli)
    app.cli.add_command(meta_billing_command)
    cli_campaigns.init_app(app)
