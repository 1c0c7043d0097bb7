"""What Meta's account-level webhook fields mean for sending, as rules without I/O.

These fields concern the WhatsApp Business Account (``entry[].id``), not one message, and carry
no ``metadata.phone_number_id``. Shapes and values follow Meta's webhook references
(developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/<field>,
checked 2026-12) and the example bodies in tests/fixtures/meta/pywa:

- ``message_template_status_update``: ``event`` is the template's new state. PAUSED (low
  quality, for 3 or 6 hours, or until the merchant edits it) and DISABLED (for good) stop every
  send of that template: Meta refuses them with 132015 and 132016 (reference/whatsapp.md 3.4),
  so a campaign still sending it halts with that code. FLAGGED warns that a pause may follow.
  APPROVED or REINSTATED after a pause means the template sends again: a campaign it halted can
  be resumed.
- ``message_template_quality_update``: ``previous_quality_score`` -> ``new_quality_score``
  (GREEN, YELLOW, RED, UNKNOWN). RED is the step before a pause.
- ``phone_number_quality_update``: ``event`` (FLAGGED, UNFLAGGED, DOWNGRADE, UPGRADE,
  THROUGHPUT_UPGRADE, ONBOARDING), ``current_limit`` (TIER_250 ... TIER_UNLIMITED; Meta
  announced its removal for February 2026) and ``max_daily_conversations_per_business``, the
  portfolio's messaging limit that replaces it.
- ``business_capability_update``: ``max_daily_conversations_per_business`` (since the portfolio
  limits of October 2025) or, before it, ``max_daily_conversation_per_phone``; -1 is unlimited.
- ``account_update``: ``event`` names what happened to the account. A restriction on
  business-initiated messaging, or a disabled account, stops every campaign: Meta would refuse
  each send (368, "restricted or disabled for a policy violation").
"""

from __future__ import annotations

from enum import StrEnum

TEMPLATE_STATUS = "message_template_status_update"
TEMPLATE_QUALITY = "message_template_quality_update"
NUMBER_QUALITY = "phone_number_quality_update"
CAPABILITY = "business_capability_update"
ACCOUNT = "account_update"
FIELDS = frozenset({TEMPLATE_STATUS, TEMPLATE_QUALITY, NUMBER_QUALITY, CAPABILITY, ACCOUNT})
# Every webhook field of the WhatsApp Business Account object the app must be subscribed to (in
# the Meta app's webhook configuration): ``messages`` carries statuses, quick replies and
# account errors; ``user_preferences`` marketing stops and resumes; the rest the fields above.
SUBSCRIBED_FIELDS = ("messages", "user_preferences", *sorted(FIELDS))

# The send code Meta answers for a template in each stopping state.
TEMPLATE_STOPS = {"PAUSED": "132015", "DISABLED": "132016"}
TEMPLATE_WARNS = frozenset({"FLAGGED"})
TEMPLATE_BACK = frozenset({"APPROVED", "REINSTATED"})

NUMBER_WARNS = frozenset({"FLAGGED", "DOWNGRADE"})

ACCOUNT_STOP_CODE = "368"  # restricted or disabled for a policy violation
_STOPPING_RESTRICTIONS = frozenset({"RESTRICTED_BIZ_INITIATED_MESSAGING"})
_DISABLED = ("DISABLED_UPDATE", "DISABLE")  # event, ban_info.waba_ban_state
UNLIMITED = -1

_TIERS = {
    "TIER_50": 50,
    "TIER_250": 250,
    "TIER_1K": 1_000,
    "TIER_2K": 2_000,
    "TIER_10K": 10_000,
    "TIER_100K": 100_000,
    "TIER_UNLIMITED": UNLIMITED,
}


class AccountVerdict(StrEnum):
    STOP = "stop"  # nothing of the account can send: halt its campaigns
    WARN = "warn"  # worth telling the merchant; sending goes on
    NOTE = "note"  # stored only


def messaging_limit(value: object) -> int | None:
    """Unique customers the portfolio may reach per rolling 24 h, from any of Meta's spellings
    (2000, "2000", "TIER_2K", -1 / "TIER_UNLIMITED" for unlimited); None when unreadable or
    not set yet (TIER_NOT_SET)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value == UNLIMITED or value > 0 else None
    if isinstance(value, str):
        text = value.strip().upper()
        if text in _TIERS:
            return _TIERS[text]
        if text.lstrip("-").isdigit():
            return messaging_limit(int(text))
    return None


def account_verdict(value: dict) -> AccountVerdict:
    """What an ``account_update`` value means for sending."""
    event = value.get("event")
    restrictions = value.get("restriction_info")
    if event == "ACCOUNT_RESTRICTION" and isinstance(restrictions, list):
        kinds = {r.get("restriction_type") for r in restrictions if isinstance(r, dict)}
        if kinds & _STOPPING_RESTRICTIONS:
            return AccountVerdict.STOP
    ban = value.get("ban_info")
    if (event, ban.get("waba_ban_state") if isinstance(ban, dict) else None) == _DISABLED:
        return AccountVerdict.STOP
    if event in ("ACCOUNT_RESTRICTION", "ACCOUNT_VIOLATION", "DISABLED_UPDATE", "ACCOUNT_DELETED"):
        return AccountVerdict.WARN
    return AccountVerdict.NOTE
