"""The one place that says, for every shop alert, what the merchant should do and where.

A shop alert (``shop_alerts``) carries a code: one of ours below, or a failure code
(core/rules/failure_codes.py): Meta's, for an account error from a webhook or a campaign halted
by a send answer, or ``APP_UNINSTALLED`` / ``WHATSAPP_DISCONNECTED`` for a campaign halted by the
shop itself. Failure codes reuse their failure remedy; ours have their own, here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.rules.failure_codes import CATEGORY_REMEDIES, Category, describe


class AlertCode(StrEnum):
    """Alerts raised by the app itself, not named by a failure code."""

    LAUNCH_CHECKS_FAILED = "LAUNCH_CHECKS_FAILED"  # a scheduled launch failed its checks
    WHATSAPP_CHECK_REFUSED = "WHATSAPP_CHECK_REFUSED"  # Meta refused the connection on a re-check
    CONSENT_WEBHOOK_UNREADABLE = "CONSENT_WEBHOOK_UNREADABLE"  # a consent webhook we cannot read
    CONSENT_WRITEBACK_REFUSED = "CONSENT_WRITEBACK_REFUSED"  # Shopify refused stops we wrote back
    # Meta's account-level webhooks (core/rules/account_events.py):
    TEMPLATE_STOPPED = "TEMPLATE_STOPPED"  # a template paused or disabled by Meta
    TEMPLATE_FLAGGED = "TEMPLATE_FLAGGED"  # a template flagged, or its quality turned red
    TEMPLATE_BACK = "TEMPLATE_BACK"  # a paused template approved again
    NUMBER_QUALITY = "NUMBER_QUALITY"  # the number flagged, or the messaging limit lowered
    ACCOUNT_RESTRICTED = "ACCOUNT_RESTRICTED"  # the account restricted or disabled by Meta
    ACCOUNT_NOTICE = "ACCOUNT_NOTICE"  # another account event worth knowing (a violation)
    # What Meta billed (core/reconcile/):
    META_BILLING_DRIFT = "META_BILLING_DRIFT"  # Meta billed more than 2% off our cost or count
    META_BILLING_UNREAD = "META_BILLING_UNREAD"  # Meta refused to say what it billed


class ActIn(StrEnum):
    """Where the merchant acts on an alert: its campaign, or a section of Settings."""

    CAMPAIGN = "campaign"
    WHATSAPP = "whatsapp"
    CONSENT = "consent"


class Tone(StrEnum):
    CRITICAL = "critical"  # nothing sends (or a campaign did not) until the merchant acts
    WARNING = "warning"  # worth a look; sending goes on


@dataclass(frozen=True)
class AlertGuide:
    title: str | None  # a plain title to show instead of the stored one (Meta's words), or None
    remedy: str
    tone: Tone
    act_in: ActIn


_OURS: dict[str, AlertGuide] = {
    AlertCode.LAUNCH_CHECKS_FAILED: AlertGuide(
        None,
        "The campaign went back to draft and nothing was sent. Open it, fix what each check "
        "names (template, audience, credits or the WhatsApp connection), then launch or "
        "schedule it again.",
        Tone.CRITICAL,
        ActIn.CAMPAIGN,
    ),
    AlertCode.WHATSAPP_CHECK_REFUSED: AlertGuide(
        None,
        "Campaigns cannot send until Meta accepts the connection. In Settings, check the "
        "connection again or reconnect WhatsApp with a valid access token for this number; "
        "this alert closes by itself once Meta accepts it.",
        Tone.CRITICAL,
        ActIn.WHATSAPP,
    ),
    AlertCode.CONSENT_WEBHOOK_UNREADABLE: AlertGuide(
        None,
        "Open the customer named above in Shopify and check their WhatsApp marketing consent. "
        "If it is not what the app shows, change it in Shopify (or save it again) so the app "
        "hears of it.",
        Tone.WARNING,
        ActIn.CONSENT,
    ),
    AlertCode.CONSENT_WRITEBACK_REFUSED: AlertGuide(
        None,
        "These customers are not messaged, whatever Shopify says. Fix what Shopify objects to "
        "(for example add the customer's phone in Shopify); the app tries again every hour and "
        "this alert closes by itself once Shopify has taken every stop.",
        Tone.WARNING,
        ActIn.CONSENT,
    ),
    AlertCode.TEMPLATE_STOPPED: AlertGuide(
        None,
        "Meta refuses every message of this template until it is approved again: campaigns "
        "that were sending it stopped, and scheduled ones will not launch. Edit the template "
        "in WhatsApp Manager (a paused template is also released by Meta after 3 or 6 hours), "
        "or choose another template.",
        Tone.CRITICAL,
        ActIn.CAMPAIGN,
    ),
    AlertCode.TEMPLATE_FLAGGED: AlertGuide(
        None,
        "Customers are blocking or reporting this template's messages; Meta pauses a template "
        "whose quality stays low. Review its wording and audience before the next send.",
        Tone.WARNING,
        ActIn.CAMPAIGN,
    ),
    AlertCode.TEMPLATE_BACK: AlertGuide(
        None,
        "The template sends again. A campaign it stopped can be resumed from its page: only the "
        "messages it never sent go out.",
        Tone.WARNING,
        ActIn.CAMPAIGN,
    ),
    AlertCode.NUMBER_QUALITY: AlertGuide(
        None,
        "The number's quality or messaging limit went down. Send to customers who asked to "
        "hear from you, and fewer marketing messages, until Meta raises it again; launches "
        "larger than the limit are spread over several days.",
        Tone.WARNING,
        ActIn.WHATSAPP,
    ),
    AlertCode.ACCOUNT_RESTRICTED: AlertGuide(
        None,
        "Meta stopped this WhatsApp Business account from starting conversations, so every "
        "campaign stopped. Open Business Support Home in Meta Business Suite to see why and "
        "to request a review.",
        Tone.CRITICAL,
        ActIn.WHATSAPP,
    ),
    AlertCode.ACCOUNT_NOTICE: AlertGuide(
        None,
        "Meta reported this about the WhatsApp Business account. Sending goes on; check Business "
        "Support Home in Meta Business Suite before it leads to a restriction.",
        Tone.WARNING,
        ActIn.WHATSAPP,
    ),
    AlertCode.META_BILLING_DRIFT: AlertGuide(
        None,
        "The cost shown for campaigns comes from Meta's published rates; Meta's own bill for the "
        "days above differs by more than 2%. Compare the lines above with the billing section of "
        "WhatsApp Manager. If Meta counts more messages, check whether another app or the "
        "WhatsApp Business app sends from this number; if the prices differ, set your rates in "
        "Settings. This alert closes by itself once the figures agree again.",
        Tone.WARNING,
        ActIn.WHATSAPP,
    ),
    AlertCode.META_BILLING_UNREAD: AlertGuide(
        None,
        "The app could not read what Meta billed, so the comparison with Meta's bill is not up "
        "to date (campaign costs still show). If Meta refused the token, reconnect WhatsApp in "
        "Settings; a rate limit passes by itself. This alert closes once Meta answers again.",
        Tone.WARNING,
        ActIn.WHATSAPP,
    ),
}

# Account-level errors from Meta's webhooks: these stop or may stop every send of the shop.
_BLOCKING = (Category.ACCOUNT, Category.CREDIT)


def guide(code: str, about_campaign: bool) -> AlertGuide:
    """What to do about an alert of ``code``, where and how loudly. ``about_campaign``: the alert
    names a campaign (a halt or a failed scheduled launch), so the campaign is where to act."""
    if code in _OURS:
        return _OURS[code]
    info = describe(code)
    if about_campaign:  # a halt: the stored title already says which campaign and why
        return AlertGuide(None, info.remedy, Tone.CRITICAL, ActIn.CAMPAIGN)
    if info.category == Category.UNKNOWN:  # Meta's account error with a code we do not know
        return AlertGuide(None, CATEGORY_REMEDIES[Category.ACCOUNT], Tone.CRITICAL, ActIn.WHATSAPP)
    tone = Tone.CRITICAL if info.category in _BLOCKING else Tone.WARNING
    return AlertGuide(info.title, info.remedy, tone, ActIn.WHATSAPP)
