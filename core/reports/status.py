"""What a campaign's status says to the merchant, in one place for the list, the campaign page
and the JSON API: the badge, one sentence, whether anything is still moving, and the one next
action.

The stored status alone misleads in one case: a campaign stays PENDING until every message has
reached its last state, and WhatsApp keeps trying a phone that is off or out of coverage for up
to 30 days (core/campaigns/monitor.py expires what never arrives). Once dispatch has finished,
such a campaign has been sent; what it waits for are reports, and it says so ("Sent · 3 reports
still pending") instead of "Sending". Nothing moves then but a late report, so the page stops
calling itself live.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from core.models import Campaign
from core.rules.campaign_states import CampaignStatus
from core.rules.wording import number, plural

LABELS = {
    CampaignStatus.DRAFT: "Draft",
    CampaignStatus.SCHEDULED: "Scheduled",
    CampaignStatus.PENDING: "Sending",
    CampaignStatus.SENT: "Sent",
    CampaignStatus.PARTIALLY_SENT: "Partially sent",
    CampaignStatus.FAILED: "Failed",
    CampaignStatus.CANCELLED: "Cancelled",
}
TONES = {
    CampaignStatus.DRAFT: "neutral",
    CampaignStatus.SCHEDULED: "info",
    CampaignStatus.PENDING: "info",
    CampaignStatus.SENT: "success",
    CampaignStatus.PARTIALLY_SENT: "warning",
    CampaignStatus.FAILED: "critical",
    CampaignStatus.CANCELLED: "neutral",
}
# Statuses in which nothing has been handed to WhatsApp: the page shows what will be sent, not a report.
NOT_SENT = (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED, CampaignStatus.CANCELLED)


@dataclass(frozen=True)
class StatusLine:
    label: str  # the badge
    tone: str
    sentence: str
    moving: bool  # messages are still being handed to WhatsApp: the numbers change by themselves
    pending_reports: int  # messages with neither a delivery nor a failure yet

    def as_dict(self) -> dict:
        return asdict(self)


def pending_reports(campaign: Campaign) -> int:
    """Messages that have not reached their last state: neither delivered (or read) nor failed
    (or expired). Delivered and failed never overlap (a failure never overrides a delivery)."""
    return max(campaign.messages_count - campaign.delivered_count - campaign.failed_count, 0)


def has_report(campaign: Campaign) -> bool:
    """Whether the campaign has anything to report: it was launched, or it holds messages."""
    return campaign.status not in NOT_SENT or campaign.messages_count > 0


def status_line(campaign: Campaign, locale: str | None = "en") -> StatusLine:
    """The badge and the sentence of the campaign's status as it truly stands."""
    status = CampaignStatus(campaign.status)
    waiting = pending_reports(campaign)
    if status == CampaignStatus.PENDING:
        return _pending(campaign, waiting, locale)
    return StatusLine(
        LABELS[status], TONES[status], _settled_sentence(campaign, status, locale), False, waiting
    )


def _pending(campaign: Campaign, waiting: int, locale: str | None) -> StatusLine:
    if campaign.halted_reason:
        # Stopped: nothing more is handed to WhatsApp until a resume; what was handed over may
        # still report. The reason is said once, in the page's banner.
        label, sentence = "Stopped", "Sending stopped: nothing more goes out until you resume."
        if campaign.dispatch_finished_at is not None and waiting:
            label += " · " + plural(waiting, "{n} report still pending", "{n} reports still pending", locale)
        return StatusLine(label, "critical", sentence, False, waiting)
    if campaign.dispatch_finished_at is None:
        total = max(campaign.estimated_audience, campaign.messages_count)
        handed = plural(campaign.sent_count, "{n} message", "{n} messages", locale)
        sentence = f"Sending: {handed} of {number(total, locale)} handed to WhatsApp so far."
        return StatusLine("Sending", "info", sentence, True, waiting)
    if not waiting:
        sentence = "Sent: every message has reached its last state; the final numbers follow in a moment."
        return StatusLine("Sent", "success", sentence, False, 0)
    reports = plural(waiting, "{n} report still pending", "{n} reports still pending", locale)
    have = plural(waiting, "{n} message has", "{n} messages have", locale)
    sentence = (
        f"Sent: every message has been handed to WhatsApp. {have} not reported delivered or "
        "failed yet: WhatsApp keeps trying a phone that is off or out of coverage for up to 30 "
        "days, then the message counts as expired. The numbers change only when such a late "
        "report arrives."
    )
    return StatusLine(f"Sent · {reports}", "success", sentence, False, waiting)


def _settled_sentence(campaign: Campaign, status: CampaignStatus, locale: str | None) -> str:
    if status == CampaignStatus.DRAFT:
        return "Draft: nothing has been sent. Launch it now or schedule it when it is ready."
    if status == CampaignStatus.SCHEDULED:
        return "Scheduled: nothing has been sent yet."
    if status == CampaignStatus.CANCELLED:
        if campaign.messages_count:
            return "Cancelled: nothing more will be sent."
        return "Cancelled before sending: nothing was sent and nothing was charged."
    delivered = plural(campaign.delivered_count, "{n} message", "{n} messages", locale)
    failed = number(campaign.failed_count, locale)
    return f"Final numbers: every message has reached its last state. {delivered} delivered, {failed} failed."


@dataclass(frozen=True)
class NextAction:
    code: str  # the page links each code to where the action is done
    text: str

    def as_dict(self) -> dict:
        return asdict(self)


def next_action(
    campaign: Campaign, line: StatusLine, signals: list[dict], unfixed_phones: int, locale: str | None = "en"
) -> NextAction:
    """The one thing worth doing next, most urgent first: what blocks sending, then what the
    merchant can repair (phone numbers), then what the numbers suggest; otherwise nothing."""
    status = CampaignStatus(campaign.status)
    if status == CampaignStatus.DRAFT:
        return NextAction("launch", "Check the preview and the audience, then launch or schedule it.")
    if status == CampaignStatus.SCHEDULED:
        return NextAction("none_scheduled", "Nothing to do: it sends by itself at the scheduled time.")
    if status == CampaignStatus.CANCELLED:
        return NextAction("duplicate", "Duplicate it to send the same message again.")
    if campaign.status == CampaignStatus.PENDING and campaign.halted_reason:
        return NextAction(
            "resume", "Fix what stopped sending, then resume: nothing already sent goes out again."
        )
    if unfixed_phones:
        customers = plural(unfixed_phones, "{n} customer's", "{n} customers'", locale)
        return NextAction("fix_phones", f"Fix {customers} phone numbers in Shopify and send again to them.")
    if signals:
        return NextAction("signal", signals[0]["message"])
    if line.moving:
        return NextAction("wait", "Nothing to do: sending goes on by itself.")
    return NextAction("none", "Nothing to fix: duplicate it when you plan the next campaign.")
