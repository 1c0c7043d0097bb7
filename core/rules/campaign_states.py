"""Campaign types and statuses, and the rule that settles a campaign."""

from __future__ import annotations

from enum import StrEnum


class CampaignType(StrEnum):
    PROMOTIONAL = "PROMOTIONAL"
    INFORMATIONAL = "INFORMATIONAL"
    CATALOG = "CATALOG"


class CampaignStatus(StrEnum):
    DRAFT = "DRAFT"
    SCHEDULED = "SCHEDULED"
    PENDING = "PENDING"
    SENT = "SENT"
    PARTIALLY_SENT = "PARTIALLY_SENT"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


SETTLED_STATUSES = (
    CampaignStatus.SENT,
    CampaignStatus.PARTIALLY_SENT,
    CampaignStatus.FAILED,
    CampaignStatus.CANCELLED,
)


def settled_status(*, messages: int, delivered: int, failed: int) -> CampaignStatus:
    """The verdict for a campaign whose dispatch has finished and whose every message is
    delivered, read, failed or expired (the caller checks that). Nothing failed: SENT;
    nothing delivered: FAILED; otherwise PARTIALLY_SENT."""
    if failed == 0:
        return CampaignStatus.SENT
    if delivered == 0:
        return CampaignStatus.FAILED
    return CampaignStatus.PARTIALLY_SENT


class Consent(StrEnum):
    """A customer's WhatsApp marketing consent, in Shopify's words."""

    SUBSCRIBED = "SUBSCRIBED"
    PENDING = "PENDING"
    NOT_SUBSCRIBED = "NOT_SUBSCRIBED"
    UNSUBSCRIBED = "UNSUBSCRIBED"
    UNKNOWN = "UNKNOWN"
    INVALID = "INVALID"
    REDACTED = "REDACTED"


class ConsentSource(StrEnum):
    """Where a customer's WhatsApp consent came from. A resume inside WhatsApp brings back a
    customer who stopped inside WhatsApp, never one Shopify says unsubscribed."""

    SHOPIFY = "shopify"  # the import, the consent webhook, a phone fix's answer
    WHATSAPP_STOP = "whatsapp_stop"  # Meta's user_preferences stop, or a 131050 failure
    WHATSAPP_RESUME = "whatsapp_resume"  # Meta's user_preferences resume after a stop
