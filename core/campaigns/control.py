"""What a merchant does with a campaign that has not been sent: unschedule it (back to draft),
delete a draft, or start a new draft as a copy of any campaign; and a time typed in the
shop's time zone, as a schedule reads it.

Cancel and schedule are launch.py's: they share its launch checks and its row lock. A scheduled
run already queued in Redis for a campaign taken back to draft finds it no longer SCHEDULED when
its time comes (launch.is_due) and does nothing, so nothing here talks to Redis.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.campaigns.audience import estimate
from core.campaigns.launch import LifecycleError, ScheduleRefused
from core.models import Campaign, ShopAlert
from core.rules.campaign_states import CampaignStatus

COPY_SUFFIX = " (copy)"


def unschedule(session: Session, campaign: Campaign) -> None:
    """A SCHEDULED campaign back to DRAFT, its time forgotten. Raises LifecycleError."""
    session.refresh(campaign, with_for_update=True)
    if campaign.status != CampaignStatus.SCHEDULED:
        raise LifecycleError(
            f"A {campaign.status} campaign is not scheduled; only SCHEDULED campaigns can be unscheduled."
        )
    campaign.status = CampaignStatus.DRAFT
    campaign.scheduled_at = None


def delete_draft(session: Session, campaign: Campaign) -> None:
    """Delete a DRAFT (it never sent anything, so no report is lost) and its alerts. Raises
    LifecycleError for any other state: a sent campaign's report is the merchant's record."""
    session.refresh(campaign, with_for_update=True)
    if campaign.status != CampaignStatus.DRAFT:
        raise LifecycleError(f"A {campaign.status} campaign cannot be deleted; only drafts can.")
    session.execute(
        delete(ShopAlert).where(ShopAlert.shop_id == campaign.shop_id, ShopAlert.campaign_id == campaign.id)
    )
    session.delete(campaign)


def duplicate(session: Session, campaign: Campaign) -> Campaign:
    """A new DRAFT with the campaign's template, components and audience, named after it. A
    send again's copy stays in its family (``follow_up_of``), so it too leaves out every
    customer the family sent to (core/campaigns/audience.py): a copy never sends twice."""
    copy = Campaign(
        shop_id=campaign.shop_id,
        status=str(CampaignStatus.DRAFT),
        name=_free_name(session, campaign.shop_id, campaign.name),
        type=campaign.type,
        template_name=campaign.template_name,
        template_language=campaign.template_language,
        template_category=campaign.template_category,
        template_format=campaign.template_format,
        template_parameters=list(campaign.template_parameters or []),
        template_components=list(campaign.template_components or []),
        template_definition=list(campaign.template_definition or []),
        audience=dict(campaign.audience or {}),
        follow_up_of=campaign.follow_up_of,
    )
    copy.estimated_audience = estimate(session, campaign.shop_id, copy.audience, copy.follow_up_of)
    session.add(copy)
    session.flush()
    return copy


def _free_name(session: Session, shop_id: int, name: str) -> str:
    """``name (copy)``, then ``name (copy 2)``, ...: campaign names are unique in a shop."""
    base = name.removesuffix(COPY_SUFFIX)
    taken = set(
        session.scalars(
            select(Campaign.name).where(
                Campaign.shop_id == shop_id, Campaign.name.startswith(base, autoescape=True)
            )
        )
    )
    candidate, n = base + COPY_SUFFIX, 1
    while candidate in taken:
        n += 1
        candidate = f"{base} (copy {n})"
    return candidate


def at_shop_time(zone_name: str | None, local: datetime) -> datetime:
    """A wall-clock time as the shop reads it (its IANA time zone, from Shopify) as an aware
    time. A time the clocks skip (spring forward) is refused rather than moved. Raises
    ScheduleRefused."""
    try:
        zone = ZoneInfo(zone_name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    at = local.replace(tzinfo=zone)
    if at.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != local:
        raise ScheduleRefused(
            f"{local:%H:%M} does not exist on {local:%Y-%m-%d} in {zone.key} (the clocks go "
            "forward): choose another time."
        )
    return at
