"""``flask --app web meta-billing [--shop DOMAIN] [--from DAY] [--to DAY]``: read what Meta billed
now, in this process, for every connected shop (or one), keep it and check the drift, as the
daily job does (core/reconcile/read.py). Without days: yesterday and the days before it (UTC)."""

from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from core.db import session_scope
from core.models import Shop
from core.reconcile.read import read_meta_billing, recent_days
from core.whatsapp.recheck import connected_shop_ids


@click.command("meta-billing")
@click.option("--shop", "domain", default=None, help="Only this shop (its myshopify domain).")
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), default=None, help="First UTC day.")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last UTC day.")
@with_appcontext
def meta_billing_command(domain: str | None, first, last) -> None:
    """Read Meta's pricing analytics now, keep them and compare them with our cost."""
    recent_first, recent_last = recent_days()
    first_day: date = first.date() if first else recent_first
    last_day: date = last.date() if last else recent_last
    shop_ids = connected_shop_ids()
    if domain is not None:
        with session_scope() as session:
            shop_ids = [
                i for i in session.scalars(select(Shop.id).where(Shop.domain == domain)) if i in shop_ids
            ]
        if not shop_ids:
            raise click.ClickException(f"no connected shop {domain}")
    for shop_id in shop_ids:
        outcome = read_meta_billing(shop_id, first_day, last_day)
        click.echo(
            f"shop {shop_id}: {outcome.outcome} ({outcome.rows} rows from Meta, {outcome.drifting} drifting)"
        )
