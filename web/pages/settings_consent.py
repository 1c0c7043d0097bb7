"""The Settings page's consent section: whether Shopify's SMS marketing consent counts as
consent to WhatsApp marketing (off by default; core/campaigns/audience.py applies it). The toggle saves
through ``PUT /api/settings/consent``."""

from __future__ import annotations

from sqlalchemy import func, select

from core.campaigns.audience import REFUSED, opted_in
from core.models import Customer, Shop
from core.rules.campaign_states import Consent
from web.database import db
from web.pages.settings_page import settings_section


@settings_section("settings/_consent.html", order=20)
def consent_section(shop: Shop) -> dict:
    """The setting, and how many customers WhatsApp consent and SMS consent each cover."""
    count = select(func.count()).select_from(Customer).where(Customer.shop_id == shop.id)
    return {
        "sms_consent_counts": shop.sms_consent_counts,
        "marketing_cap_hours": shop.marketing_cap_hours,
        "whatsapp_subscribed": db().scalar(count.where(Customer.consent == Consent.SUBSCRIBED)) or 0,
        # Exactly whom the toggle adds or removes: a customer who stopped WhatsApp is never added.
        "sms_only": db().scalar(
            count.where(
                Customer.sms_consent == Consent.SUBSCRIBED,
                Customer.consent != Consent.SUBSCRIBED,
                Customer.consent.not_in(REFUSED),
            )
        )
        or 0,
        "reachable": db().scalar(count.where(opted_in())) or 0,
    }
