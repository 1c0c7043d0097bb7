"""Where dispatch stands: what is left to send, when it is due, and whether dispatch is over."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.models import Campaign

_NEXT_DUE = text("""
    SELECT min(COALESCE(retry_at, now())) FROM messages
     WHERE shop_id = :shop_id AND campaign_id = :campaign_id
       AND status = 'queued' AND submitted_at IS NULL
""")

# Dispatch is over when no message waits to be handed to Meta. A concurrent batch that puts a
# message back in the queue (a retryable error) clears the mark again (record.py), in whichever
# order the two transactions commit.
_FINISH = text("""
    UPDATE campaigns c SET dispatch_finished_at = now()
     WHERE c.shop_id = :shop_id AND c.id = :campaign_id
       AND c.dispatch_started_at IS NOT NULL AND c.dispatch_finished_at IS NULL
       AND NOT EXISTS (SELECT 1 FROM messages m
                        WHERE m.shop_id = c.shop_id AND m.campaign_id = c.id
                          AND m.status = 'queued' AND m.submitted_at IS NULL)
    RETURNING c.id
""")


def next_due(session: Session, shop_id: int, campaign_id: int) -> datetime | None:
    """When the next queued message may be sent (a past time means now), or None when no
    message waits to be handed to Meta."""
    return session.execute(_NEXT_DUE, {"shop_id": shop_id, "campaign_id": campaign_id}).scalar_one()


def finish_if_done(session: Session, shop_id: int, campaign_id: int) -> bool:
    """Mark dispatch as finished if nothing is left to send; True when this call marked it."""
    params = {"shop_id": shop_id, "campaign_id": campaign_id}
    return session.execute(_FINISH, params).first() is not None


def progress(campaign: Campaign) -> dict:
    """The progress bar's numbers, from the counters (constant time, exact: dispatch moves
    them in the same transaction as the messages)."""
    handled = campaign.submitted_count + campaign.failed_before_send_count
    return {
        "messages": campaign.messages_count,
        "queued": max(campaign.messages_count - handled, 0),
        "submitted": campaign.submitted_count,
        "failed_before_send": campaign.failed_before_send_count,
        "dispatch_started": campaign.dispatch_started_at is not None,
        "dispatch_finished": campaign.dispatch_finished_at is not None,
    }
