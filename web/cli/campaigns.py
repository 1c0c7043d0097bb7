"""CLI commands for campaigns: ``flask --app web monitor`` and ``flask --app web campaigns launch``.

``monitor`` runs MonitorCampaignJob's work at once, in this process, for every campaign that is
not settled (launched ones, and scheduled ones whose time has come), always on the
reconciliation path, and then makes sure each still-open campaign has its monitor job (and,
while messages wait, its dispatch lanes) pending: it is also the way to recover after Redis lost
its queues. Run it from cron for that reason.
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from core.campaigns.launch import LifecycleError, ask_meta, launch
from core.campaigns.monitor import MonitorResult, monitor_campaign
from core.db import session_scope
from core.models import Campaign, Shop
from core.rules.campaign_states import CampaignStatus
from core.rules.wording import plural
from core.settings import get_settings
from jobs.chains import enqueue_launch_now, ensure_monitor, keep_dispatch_alive, start_dispatch

campaigns_cli = AppGroup("campaigns", help="Campaign commands.")


@click.command("monitor")
@with_appcontext
def monitor_command() -> None:
    """Run MonitorCampaignJob now for every campaign that is not settled."""
    ttl = timedelta(days=get_settings().message_ttl_days)
    with session_scope() as session:
        open_campaigns = session.execute(
            select(Campaign.shop_id, Campaign.id, Campaign.name).where(
                Campaign.status.in_([CampaignStatus.PENDING, CampaignStatus.SCHEDULED])
            )
        ).all()
    for shop_id, campaign_id, name in open_campaigns:
        with session_scope() as session:
            result = monitor_campaign(session, shop_id, campaign_id, ttl=ttl, reconcile=True)
        click.echo(_describe(name, result))
        _keep_going(shop_id, campaign_id, result)
    click.echo(f"monitored {len(open_campaigns)} campaign(s)")


def _describe(name: str, result: MonitorResult) -> str:
    line = f"campaign {result.campaign_id} '{name}': {result.status_before}"
    if result.status_after != result.status_before:
        line += f" -> {result.status_after}"
    if result.due_for_launch:
        line += " (due: launching)"
    if result.expired:
        line += f", {result.expired} expired"
    if result.unconfirmed:
        line += f", {result.unconfirmed} unconfirmed sends failed"
    for drift in result.drifts:
        changed = {k: (drift["old"][k], v) for k, v in drift["new"].items() if drift["old"][k] != v}
        line += f", counters fixed {changed}"
    return line


def _keep_going(shop_id: int, campaign_id: int, result: MonitorResult) -> None:
    if result.due_for_launch:
        enqueue_launch_now(shop_id, campaign_id)
        return
    if result.next_in_s is None:
        return
    ensure_monitor(shop_id, campaign_id, delay=result.next_in_s)
    if result.status_after == "PENDING":
        keep_dispatch_alive(shop_id, campaign_id)


@campaigns_cli.command("launch")
@click.argument("name")
@click.option("--shop", "domain", required=True, help="the shop's myshopify domain")
def launch_command(name: str, domain: str) -> None:
    """Launch the campaign NAME of a shop now (the same checks as the API)."""
    with session_scope() as session:  # read, then let go: the checks ask Meta with no transaction open
        shop = session.scalar(select(Shop).where(Shop.domain == domain))
        campaign = shop and session.scalar(
            select(Campaign).where(Campaign.shop_id == shop.id, Campaign.name == name)
        )
        if campaign is None:
            raise click.ClickException(f"no campaign named {name!r} in {domain}")
    meta = ask_meta(shop, campaign)
    with session_scope() as session:
        shop, campaign = session.get(Shop, shop.id), session.get(Campaign, (shop.id, campaign.id))
        try:
            result = launch(session, shop, campaign, meta)
        except LifecycleError as error:
            raise click.ClickException(str(error)) from None
        ids = (shop.id, campaign.id)
    if result.failures:
        raise click.ClickException(
            "launch checks failed:\n" + "\n".join(f"  {f.check}: {f.message}" for f in result.failures)
        )
    start_dispatch(*ids)
    recipients = plural(result.audience, "{n} recipient", "{n} recipients")
    click.echo(f"campaign {ids[1]} '{name}' launched to {recipients}; dispatch started")


def init_app(app) -> None:
    app.cli.add_command(monitor_command)
    app.cli.add_command(campaigns_cli)
