"""CLI commands for the webhook inbox: ``flask --app web inbox failed`` lists the events the
drains set aside as failed, with their last error; ``flask --app web inbox replay ID...`` puts
failed events back, once their cause is fixed, and queues the drains that apply them."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from redis.exceptions import RedisError

from core.db import session_scope
from core.inbox import store
from jobs.shopify import request_shopify_drain
from jobs.webhooks import request_drain

inbox_cli = AppGroup("inbox", help="The webhook inbox: failed events and their replay.")

_DRAIN_REQUESTS = {"meta": request_drain, "shopify": request_shopify_drain}


@inbox_cli.command("failed")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
def failed_command(limit: int) -> None:
    """List the latest events set aside as failed, newest first."""
    with session_scope() as session:
        rows = store.failed_events(session, limit=limit)
    for row in rows:
        shop = (row.headers or {}).get("X-Shopify-Shop-Domain", "")
        kept = "" if row.has_body else " (body no longer kept)"
        click.echo(
            f"{row.id} {row.source} {row.topic or ''} {shop} received {row.received_at.isoformat()}"
            f" after {row.attempts} attempts{kept}: {row.last_error or ''}"
        )
    click.echo(f"{len(rows)} failed event(s)")


@inbox_cli.command("replay")
@click.argument("event_ids", nargs=-1, required=True, type=click.IntRange(1, 2**63 - 1))
def replay_command(event_ids: tuple[int, ...]) -> None:
    """Put failed events back in the inbox, to be applied as if just received."""
    with session_scope() as session:
        replayed, refused = store.replay(session, list(dict.fromkeys(event_ids)))
    for source in sorted(set(replayed.values())):
        _request_drain(source)
    if replayed:
        click.echo("replayed " + " ".join(map(str, replayed)))
    for event_id, why in refused.items():
        click.echo(f"{event_id}: {why}", err=True)
    if refused:
        raise click.exceptions.Exit(1)


def _request_drain(source: str) -> None:
    try:
        _DRAIN_REQUESTS[source]()
    except RedisError as error:
        click.echo(f"could not queue a {source} drain ({type(error).__name__}); the sweeper will", err=True)
