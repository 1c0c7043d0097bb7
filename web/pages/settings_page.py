"""The Settings page: one section per concern, each an include template with its own context.

To add a section, write ``templates/settings/_NAME.html`` (it reads its values from
``section``) and a function of the shop answering that context, decorated with
``@settings_section("settings/_NAME.html", order=N)``, in a module ``web/pages/settings_*.py``
that web/pages/__init__.py imports. Sections show in ``order``; the WhatsApp connection comes first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from flask import render_template
from sqlalchemy import and_, func, or_, select

from core.models import Campaign, Shop
from core.rules.campaign_states import CampaignStatus
from core.settings import get_settings
from core.whatsapp.state import describe, template_states
from web.database import db
from web.pages import blueprint, embedded_page

# Meta's quality ratings and messaging-limit tiers (WhatsAppPhoneNumberQualityRating and
# messaging_limit_tier in Meta's OpenAPI description), in a merchant's words.
QUALITY_LABELS = {
    "GREEN": "High (green)",
    "YELLOW": "Medium (yellow)",
    "RED": "Low (red)",
    "NA": "Not rated yet",
}
TIER_LABELS = {
    "TIER_50": "50 customers a day",
    "TIER_250": "250 customers a day",
    "TIER_1K": "1,000 customers a day",
    "TIER_2K": "2,000 customers a day",
    "TIER_10K": "10,000 customers a day",
    "TIER_100K": "100,000 customers a day",
    "TIER_UNLIMITED": "Unlimited",
}
# The display name's review (name_status; WhatsAppDisplayNameStatus in Meta's OpenAPI).
NAME_LABELS = {
    "APPROVED": "Approved by Meta",
    "AVAILABLE_WITHOUT_REVIEW": "Available without review",
    "PENDING_REVIEW": "Under review by Meta",
    "DECLINED": "Declined by Meta: change it in WhatsApp Manager",
    "EXPIRED": "Expired: renew it in WhatsApp Manager",
    "NONE": "None yet",
}
# The number's status (WhatsAppAccountNumberStatus in Meta's OpenAPI), and whether it can send.
NUMBER_STATUS_LABELS = {
    "CONNECTED": "Connected: it can send",
    "PENDING": "Pending: not registered on the WhatsApp Cloud API yet, so it cannot send",
    "FLAGGED": "Flagged by Meta for low quality: its messaging limit may go down",
    "RESTRICTED": "Restricted by Meta: it cannot start conversations for now",
    "DISCONNECTED": "Disconnected from the WhatsApp Cloud API: it cannot send",
    "UNVERIFIED": "Not verified by Meta yet",
}
# Statuses that stop or threaten sends: said on a campaign still to send, as a warning.
NUMBER_STATUS_WARNINGS = ("PENDING", "FLAGGED", "RESTRICTED", "DISCONNECTED")
# The events of Meta's phone_number_quality_update webhook (core/rules/account_events.py).
QUALITY_EVENTS = {
    "FLAGGED": "Flagged: quality is low; the messaging limit may go down",
    "UNFLAGGED": "No longer flagged",
    "DOWNGRADE": "Messaging limit lowered",
    "UPGRADE": "Messaging limit raised",
    "THROUGHPUT_UPGRADE": "Throughput raised to 1,000 messages a second",
    "ONBOARDING": "Being set up by Meta",
}


@dataclass(frozen=True)
class SettingsSection:
    template: str
    order: int
    context: Callable[[Shop], dict]


SECTIONS: list[SettingsSection] = []


def settings_section(template: str, order: int) -> Callable:
    """Register a section of the Settings page: ``template`` rendered with the function's answer."""

    def register(context: Callable[[Shop], dict]) -> Callable[[Shop], dict]:
        SECTIONS.append(SettingsSection(template, order, context))
        return context

    return register


@blueprint.get("/settings")
@embedded_page
def settings_page(shop):
    """Every section of the Settings page, in order."""
    sections = [(s.template, s.context(shop)) for s in sorted(SECTIONS, key=lambda s: (s.order, s.template))]
    return render_template("settings.html", shop=shop, sections=sections)


@settings_section("settings/_whatsapp.html", order=10)
def whatsapp_section(shop: Shop) -> dict:
    """The shop's WhatsApp connection, and whether Embedded Signup can be offered."""
    settings = get_settings()
    connection = describe(db(), shop)
    last_webhook = connection.get("last_webhook_at")
    registered = connection.get("registered_at")
    return {
        "connection": connection,
        "last_webhook_at": datetime.fromisoformat(last_webhook) if last_webhook else None,
        "quality_labels": QUALITY_LABELS,
        "tier_labels": TIER_LABELS,
        "name_labels": NAME_LABELS,
        "number_status_labels": NUMBER_STATUS_LABELS,
        "registered_at": datetime.fromisoformat(registered) if registered else None,
        "quality_events": QUALITY_EVENTS,
        "templates": template_states(db(), shop.id),
        "embedded_signup": settings.embedded_signup_offered,
        "meta_app_id": settings.meta_app_id,
        "meta_config_id": settings.meta_config_id,
        "graph_version": settings.meta_api_version,
        **_campaigns_at_stake(shop),
    }


def _campaigns_at_stake(shop: Shop) -> dict:
    """What disconnecting would stop, said in its confirmation: campaigns sending now and
    campaigns scheduled to send."""
    rows = db().execute(
        select(Campaign.status, func.count())
        .where(
            Campaign.shop_id == shop.id,
            or_(
                Campaign.status == CampaignStatus.SCHEDULED,
                and_(Campaign.status == CampaignStatus.PENDING, Campaign.dispatch_finished_at.is_(None)),
            ),
        )
        .group_by(Campaign.status)
    )
    counts = dict(rows.all())
    return {
        "sending_campaigns": counts.get(str(CampaignStatus.PENDING), 0),
        "scheduled_campaigns": counts.get(str(CampaignStatus.SCHEDULED), 0),
    }
