"""Read models for the campaign pages: counters, failure breakdowns and signals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.campaigns.tracking import names_tracked_button
from core.counts.failures import failure_counts
from core.models import Campaign, Customer, Message
from core.reports.metrics import Metrics, rates, signals
from core.reports.status import status_line
from core.rules.campaign_states import SETTLED_STATUSES
from core.rules.failure_codes import OurCode, describe


def counters(campaign: Campaign) -> Metrics:
    return Metrics(
        messages=campaign.messages_count,
        sent=campaign.sent_count,
        delivered=campaign.delivered_count,
        read=campaign.read_count,
        failed=campaign.failed_count,
        clicked=campaign.clicked_count,
    )


def failures_by_code(session: Session, shop_id: int, campaign_ids: Iterable[int]) -> dict[int, list[dict]]:
    """Failed and expired messages per campaign and error code, largest first, read from the
    kept breakdown (core/counts/failures.py). Expired messages without a code count as MESSAGE_EXPIRED."""
    ids = list(campaign_ids)
    if not ids:
        return {}
    breakdown: dict[int, list[dict]] = defaultdict(list)
    for campaign_id, counts in failure_counts(session, shop_id, ids).items():
        for count in counts:
            info = describe(count.code)
            breakdown[campaign_id].append(
                {
                    "code": info.code,
                    "category": str(info.category),
                    "count": count.messages,
                    # Failed before Meta accepted the message (no wamid): it never left the shop.
                    "at_submission": count.messages - count.accepted,
                    "title": info.title,
                    "remedy": info.remedy,
                }
            )
    return breakdown


def campaign_report(campaign: Campaign, errors: list[dict], locale: str | None = "en") -> dict:
    """The campaign's numbers, rates, failures, signals, audience gap and what its status says
    (core/reports/status.py), numbers in its words written the ``locale``'s way."""
    metrics = counters(campaign)
    by_category: dict[str, int] = defaultdict(int)
    for error in errors:
        by_category[error["category"]] += error["count"]
    tracked = clicks_tracked(campaign)
    found = signals(metrics, by_category, settled=campaign.status in SETTLED_STATUSES, clicks_tracked=tracked)
    return {
        "metrics": metrics.as_dict(),
        "rates": rates(metrics, clicks_tracked=tracked),
        "click_tracking": "tracked" if tracked else "not_tracked",
        "errors": errors,
        "signals": [signal.as_dict() for signal in found],
        "audience_gap": audience_gap(campaign, errors),
        "status_line": status_line(campaign, locale).as_dict(),
    }


def clicks_tracked(campaign: Campaign) -> bool:
    """Return whether clicks on this campaign's messages can be counted: its draft names a
    tracked URL button, or customers have clicked (quick replies are counted from Meta's
    webhooks whether or not the draft mentions them)."""
    drafted = (campaign.template_parameters, campaign.template_components)
    return campaign.clicked_count > 0 or names_tracked_button(drafted)


def audience_gap(campaign: Campaign, errors: list[dict]) -> dict[str, int]:
    """Why fewer messages were sent than the audience estimate promised, as exact counts.

    The estimate is taken when the campaign is built; the audience is read again at send time,
    so customers who changed consent or left in between get no message row at all
    (``not_created``; negative when the audience grew); a holdout keeps its share unsent on
    purpose (``held_out``). Of the rows that exist, some failed
    before or at submission to Meta (ours: consent changed, no valid phone, no credit; Meta's:
    the send call was refused), and while dispatch runs some are still waiting their turn.
    """
    at_submission = sum(e.get("at_submission", 0) for e in errors)
    consent = sum(e.get("at_submission", 0) for e in errors if e["code"] == OurCode.CUSTOMER_IS_NOT_OPTED_IN)
    return {
        "estimated": campaign.estimated_audience,
        "gap": campaign.estimated_audience - campaign.sent_count,
        "not_created": campaign.estimated_audience - campaign.messages_count - campaign.held_out_count,
        "held_out": campaign.held_out_count,
        "consent_changed": consent,
        "failed_at_submission": at_submission - consent,
        "waiting": max(campaign.messages_count - campaign.sent_count - at_submission, 0),
    }


def missing_calling_code(session: Session, shop_id: int, campaign_id: int) -> dict[str, int]:
    """Customers of the campaign whose message failed for a phone without its country code,
    and how many of them have a valid number in Shopify by now.

    Not kept like the breakdown: "fixed" changes with the customers (Shopify's updates, our fix
    page), not with the messages. Two partial indexes bound it instead: the messages that failed
    so (ix_messages_calling_code, one per customer: a campaign messages a customer once) and the
    shop's customers still without a valid number (ix_customers_without_e164), joined by hash,
    both read index-only; the fixed are the rest. A deleted customer's message has no customer
    and counts in neither."""
    unfixed = (
        (Customer.shop_id == Message.shop_id)
        & (Customer.id == Message.customer_id)
        & Customer.phone_e164.is_(None)
    )
    customers, still_unfixed = session.execute(
        select(func.count(Message.customer_id), func.count(Customer.id))
        .select_from(Message)
        .outerjoin(Customer, unfixed)
        .where(
            Message.shop_id == shop_id,
            Message.campaign_id == campaign_id,
            Message.error_code == OurCode.CUSTOMER_IS_MISSING_CALLING_CODE,
            Message.status == "failed",
        )
    ).one()
    return {"customers": customers, "fixed": customers - still_unfixed}
