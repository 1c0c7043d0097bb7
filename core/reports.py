"""Read models for the campaign pages: counters, failure breakdowns and signals."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.campaigns import SETTLED_STATUSES
from core.errors import describe
from core.metrics import Metrics, rates, signals
from core.models import Campaign, Message
from core.statuses import FAILED_STATUSES


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
    """Failed and expired messages per campaign and error code, largest first. Expired
    messages without a code count as MESSAGE_EXPIRED."""
    ids = list(campaign_ids)
    if not ids:
        return {}
    code = func.coalesce(Message.error_code, "MESSAGE_EXPIRED")
    rows = session.execute(
        select(Message.campaign_id, code, func.count())
        .where(
            Message.shop_id == shop_id,
            Message.campaign_id.in_(ids),
            Message.status.in_([str(s) for s in FAILED_STATUSES]),
        )
        .group_by(Message.campaign_id, code)
        .order_by(func.count().desc(), code)
    )
    breakdown: dict[int, list[dict]] = defaultdict(list)
    for campaign_id, error_code, count in rows:
        info = describe(error_code)
        breakdown[campaign_id].append(
            {
                "code": info.code,
                "category": str(info.category),
                "count": count,
                "title": info.title,
                "remedy": info.remedy,
            }
        )
    return breakdown


def campaign_report(campaign: Campaign, errors: list[dict]) -> dict:
    metrics = counters(campaign)
    by_category: dict[str, int] = defaultdict(int)
    for error in errors:
        by_category[error["category"]] += error["count"]
    found = signals(metrics, by_category, settled=campaign.status in SETTLED_STATUSES)
    return {
        "metrics": metrics.as_dict(),
        "rates": rates(metrics),
        "errors": errors,
        "signals": [signal.as_dict() for signal in found],
    }
