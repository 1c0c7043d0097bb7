"""MonitorCampaignJob's work on one campaign (the job and its schedule: jobs/monitor.py).

It runs during and after dispatch and does four things, each safe beside the webhook drain:

1. expiry: a message Meta took but never delivered within the TTL (30 days by default) is
   ``expired`` (error ``MESSAGE_EXPIRED``, counted as failed). Meta retries undelivered messages
   for exactly that long, then silently drops them. A later webhook still upgrades it.
2. unconfirmed sends: a request that left without an answer (a timeout) waits for a status
   webhook, which our callback data ties to the message; if none comes within a day, the
   message fails as ``SEND_UNCONFIRMED`` rather than keep the campaign open for ever.
3. counters: on the counter path the campaign row alone says whether every message is
   terminal (delivered + failed = messages, since the ratchet keeps those sets apart): constant
   time. The reconciliation path recounts with a GROUP BY, fixes any drift and reports it.
4. settling: once dispatch is over and every message is terminal, the campaign becomes SENT,
   PARTIALLY_SENT or FAILED (core/rules/campaign_states.py), decided on freshly recounted numbers.

Every write is a conditional statement (``WHERE status ...``), so two runs at once, or a run
beside the drain, change nothing twice. Messages are locked before the campaign row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from core.counts.failures import FailureChanges, entered_sql
from core.counts.recount import recount
from core.counts.variants import VariantChanges
from core.experiments.test_then_send import rest_due_at, waiting_for_rest
from core.models import Campaign
from core.outcomes.credits import settle_credits_when_moved
from core.rules.campaign_states import SETTLED_STATUSES, CampaignStatus, settled_status
from core.rules.failure_codes import META_EXPERIMENT, ErrorInfo, OurCode, describe
from core.rules.statuses import RANK, MessageStatus

UNCONFIRMED_GRACE = timedelta(days=1)
# Meta's TTL is counted from its acceptance; a failed webhook can trail it a little.
EXPIRY_BUFFER = timedelta(hours=1)
# Run again after this long, by the campaign's age since launch (older campaigns change slowly).
INTERVALS = (
    (timedelta(minutes=2), 5),
    (timedelta(minutes=15), 15),
    (timedelta(hours=1), 60),
    (timedelta(days=1), 600),
)
OLD_CAMPAIGN_INTERVAL_S = 3600


@dataclass
class MonitorResult:
    campaign_id: int
    status_before: str
    status_after: str
    expired: int = 0
    unconfirmed: int = 0
    reconciled: bool = False
    drifts: list = field(default_factory=list)
    due_for_launch: bool = False
    due_for_rest: bool = False  # a test then send whose test has run its hours
    next_in_s: float | None = None  # None: nothing more to watch

    @property
    def settled(self) -> bool:
        return self.status_after in SETTLED_STATUSES


# Both statements move messages from outside failed and expired into them: each enters the
# failure breakdown (core/counts/failures.py), written after the campaign row (_ADD_FAILED).
_EXPIRE = text(f"""
    UPDATE messages
       SET status = 'expired', expired_at = now(), error_code = :code, error_category = :category,
           error_title = :title, error_source = 'ours'
     WHERE shop_id = :shop_id AND campaign_id = :campaign_id
       AND status IN ('accepted', 'held', 'sent') AND status_rank < :expired_rank
       AND COALESCE(accepted_at, held_at, sent_at) < :cutoff
    RETURNING {entered_sql("messages")}
""")

_OLDEST_UNCONFIRMED = text("""
    SELECT min(submitted_at) FROM messages
     WHERE shop_id = :shop_id AND campaign_id = :campaign_id
       AND status = 'queued' AND submitted_at IS NOT NULL AND wamid IS NULL
""")

_FAIL_UNCONFIRMED = text(f"""
    UPDATE messages
       SET status = 'failed', failed_at = now(), error_code = :code, error_category = :category,
           error_title = :title, error_source = 'ours'
     WHERE shop_id = :shop_id AND campaign_id = :campaign_id
       AND status = 'queued' AND submitted_at IS NOT NULL AND wamid IS NULL AND submitted_at < :cutoff
    RETURNING {entered_sql("messages")}
""")

_ADD_FAILED = text("""
    UPDATE campaigns SET failed_count = failed_count + :failed WHERE shop_id = :shop_id AND id = :campaign_id
""")

_SETTLE = text("""
    UPDATE campaigns SET status = :status, completed_at = now()
     WHERE shop_id = :shop_id AND id = :campaign_id AND status = 'PENDING'
""")


def monitor_campaign(
    session: Session,
    shop_id: int,
    campaign_id: int,
    *,
    ttl: timedelta,
    reconcile: bool = False,
    now: datetime | None = None,
) -> MonitorResult:
    """One run. ``reconcile`` forces the GROUP BY path; it also runs whenever the counters say
    the campaign may settle, so a campaign never settles on drifted numbers."""
    now = now or datetime.now(UTC)
    campaign = session.get(Campaign, (shop_id, campaign_id))
    if campaign is None:
        return MonitorResult(campaign_id, "MISSING", "MISSING")
    result = MonitorResult(campaign_id, campaign.status, campaign.status)
    if campaign.status == CampaignStatus.SCHEDULED:
        result.due_for_launch = campaign.scheduled_at is not None and campaign.scheduled_at <= now
        result.next_in_s = 0 if result.due_for_launch else (campaign.scheduled_at - now).total_seconds()
        return result
    if campaign.status != CampaignStatus.PENDING:
        return result
    keys = {"shop_id": shop_id, "campaign_id": campaign_id}
    result.expired = _expire(session, campaign, keys, now - ttl - EXPIRY_BUFFER)
    result.unconfirmed = _fail_unconfirmed(session, keys, now - UNCONFIRMED_GRACE)
    session.refresh(campaign)
    if reconcile or _may_settle(campaign):
        result.reconciled = True
        result.drifts = recount(session, shop_id, [campaign_id])  # locks the campaign row
        session.refresh(campaign)
        if _may_settle(campaign):
            # Meta's own experiment (130472) is not the campaign failing.
            experiment = session.scalar(_EXPERIMENT_FAILURES, {**keys, "code": META_EXPERIMENT})
            verdict = settled_status(
                messages=campaign.messages_count,
                delivered=campaign.delivered_count,
                failed=campaign.failed_count - experiment,
            )
            session.execute(_SETTLE, {**keys, "status": str(verdict)})
            session.refresh(campaign)
    settle_credits_when_moved(session, campaign)
    result.status_after = campaign.status
    result.next_in_s = None if result.settled else next_interval_s(campaign, now)
    rest_at = rest_due_at(campaign.test_then_send, campaign.dispatch_started_at)
    if rest_at is not None and campaign.status == CampaignStatus.PENDING:
        # Should the rest's own job be lost, the watch queues it (jobs/monitor.py).
        # Once due, the usual interval: the queued job needs no watch spinning until it runs.
        result.due_for_rest = rest_at <= now
        if not result.due_for_rest:
            result.next_in_s = min(result.next_in_s, (rest_at - now).total_seconds())
    return result


# The kept failure breakdown (core/counts/failures.py), recounted just before a settle.
_EXPERIMENT_FAILURES = text("""
    SELECT COALESCE(sum(messages), 0) FROM campaign_failure_counts
     WHERE shop_id = :shop_id AND campaign_id = :campaign_id AND code = :code
""")


def _may_settle(campaign: Campaign) -> bool:
    """The counter path: constant time, from the campaign row alone."""
    terminal = campaign.delivered_count + campaign.failed_count
    if waiting_for_rest(campaign.test_then_send):
        return False  # the test part alone: the winner is still to go to the rest
    return campaign.dispatch_finished_at is not None and terminal >= campaign.messages_count


def _expire(session: Session, campaign: Campaign, keys: dict, cutoff: datetime) -> int:
    # Nothing can have expired before the oldest possible acceptance: skip the scan until then.
    if campaign.dispatch_started_at is None or campaign.dispatch_started_at >= cutoff:
        return 0
    info = describe(OurCode.MESSAGE_EXPIRED)
    params = {**keys, "title": info.title, "expired_rank": RANK[MessageStatus.EXPIRED], "cutoff": cutoff}
    return _fail_messages(session, _EXPIRE, info, params)


def _fail_unconfirmed(session: Session, keys: dict, cutoff: datetime) -> int:
    oldest = session.execute(_OLDEST_UNCONFIRMED, keys).scalar_one()
    if oldest is None or oldest >= cutoff:
        return 0
    info = describe(OurCode.SEND_UNCONFIRMED)
    return _fail_messages(session, _FAIL_UNCONFIRMED, info, {**keys, "title": info.title, "cutoff": cutoff})


def _fail_messages(session: Session, statement: TextClause, info: ErrorInfo, params: dict) -> int:
    """Run ``statement`` (_EXPIRE or _FAIL_UNCONFIRMED) with ``info``'s code; count what it
    moved on the campaign, then in the failure breakdown (the campaign row first)."""
    rows = session.execute(statement, {**params, "code": info.code, "category": str(info.category)}).all()
    if rows:
        session.execute(
            _ADD_FAILED,
            {"shop_id": params["shop_id"], "campaign_id": params["campaign_id"], "failed": len(rows)},
        )
        breakdown, variants = FailureChanges(), VariantChanges()
        breakdown.entered(params["shop_id"], rows)
        breakdown.apply(session)
        variants.failed(params["shop_id"], rows)
        variants.apply(session)
    return len(rows)


def next_interval_s(campaign: Campaign, now: datetime) -> float:
    age = now - (campaign.launched_at or campaign.created_at)
    for limit, seconds in INTERVALS:
        if age < limit:
            return seconds
    return OLD_CAMPAIGN_INTERVAL_S
