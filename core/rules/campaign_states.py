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
