"""Record what Meta answered for a batch of sends, in one transaction.

- accepted: store the wamid (only where none is stored yet: whoever sets it from NULL counts the
  message as sent, so a webhook that matched it first by our callback data is not counted twice)
  and move the status to ``accepted`` or ``held`` with the ratchet, then apply any statuses that
  were parked because they arrived before the wamid;
- refused for good: the message fails with Meta's code, title and details;
- refused for now (rate limits, outages) or never sent: the message goes back to the queue
  with a backoff;
- account or template codes: the message fails and the campaign halts (halt.py); the header
  media and an invalid parameter halt only by count (counted_halt.py);
- no answer: nothing changes. The message stays handed over and waits for a webhook.

Every counter moves in the same transaction as the rows it counts; messages are written before
the campaign row is touched (the drain's lock order).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.counts.failures import FailureChanges, FailureKey, entered_sql, failure_code_sql
from core.counts.variants import VariantChanges
from core.dispatch.counted_halt import counted_halt
from core.dispatch.send_policy import Verdict, decide
from core.meta_webhooks.apply import STOPPED_MARKETING, release_parked
from core.meta_webhooks.halt import HaltReason, fail_unsent, halted_already, mark_halted
from core.meta_webhooks.preferences import unsubscribe_refused
from core.outcomes.credits import RETURN, record_movement
from core.rules.failure_codes import describe
from core.rules.statuses import RANK, MessageStatus
from core.whatsapp.send import SendResult

# A request that never left is treated like Meta's "service temporarily unavailable".
NOT_SENT_CODE = "131016"


@dataclass(frozen=True)
class Outcome:
    message_id: int
    attempt: int
    result: SendResult
    stopped: bool = False  # never sent: the campaign halted while it waited for its slot


@dataclass
class RecordSummary:
    accepted: int = 0
    failed: int = 0
    requeued: int = 0
    unconfirmed: int = 0
    halt: HaltReason | None = None
    halted_now: bool = False  # this batch halted the campaign (another lane may have already)
    pause_number_s: float = 0.0  # Meta said the whole number is over a limit
    retry_at: list[datetime] = field(default_factory=list)


# A message that had failed without a wamid (its send unconfirmed for too long) keeps its status
# and code: the wamid only moves it to the accepted side of the failure breakdown. The time is
# a FROM item (t), not a call inside COALESCE: Citus works out a modification's functions before
# it sends the statement to the shard, which it cannot do for a call made for some rows only.
_ACCEPT = text(f"""
    UPDATE messages m
       SET wamid = a.wamid, wa_id = a.wa_id,
           status = CASE WHEN m.status_rank < a.rank THEN a.status ELSE m.status END,
           accepted_at = COALESCE(m.accepted_at, t.now),
           held_at = CASE WHEN a.status = 'held' THEN COALESCE(m.held_at, t.now) ELSE m.held_at END,
           retry_at = NULL
      FROM unnest(CAST(:ids AS bigint[]), CAST(:wamids AS text[]), CAST(:wa_ids AS text[]),
                  CAST(:statuses AS text[]), CAST(:ranks AS int[])) AS a(id, wamid, wa_id, status, rank),
           now() AS t(now)
     WHERE m.shop_id = :shop_id AND m.id = a.id AND m.wamid IS NULL
    RETURNING m.id, {entered_sql("m")}
""")

# A refused message may have expired already (and so be in the failure breakdown under its
# code): the code it had is read under the lock, for the breakdown to move it (core/counts/failures.py).
_FAIL = text(f"""
    WITH f AS (
        SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:codes AS text[]), CAST(:categories AS text[]),
                             CAST(:titles AS text[]), CAST(:details AS text[]))
                   AS f(id, code, category, title, details)
    ), o AS (
        SELECT m.id, {failure_code_sql("m")} AS old_code
          FROM f JOIN messages m ON m.shop_id = :shop_id AND m.id = f.id
         WHERE m.wamid IS NULL AND m.status_rank < :failed_rank
         ORDER BY m.id
           FOR UPDATE OF m
    )
    UPDATE messages m
       SET status = 'failed', failed_at = COALESCE(m.failed_at, t.now), error_code = f.code,
           error_category = f.category, error_title = f.title, error_details = f.details,
           error_source = 'meta', retry_at = NULL
      FROM f JOIN o ON o.id = f.id CROSS JOIN now() AS t(now)  -- t: see _ACCEPT
     WHERE m.shop_id = :shop_id AND m.id = f.id AND m.wamid IS NULL AND m.status_rank < :failed_rank
    RETURNING m.id, o.old_code, {entered_sql("m")}
""")

_REQUEUE = text("""
    UPDATE messages m
       SET submitted_at = NULL, retry_at = r.retry_at
      FROM unnest(CAST(:ids AS bigint[]), CAST(:retry_ats AS timestamptz[])) AS r(id, retry_at)
     WHERE m.shop_id = :shop_id AND m.id = r.id
       AND m.status = 'queued' AND m.wamid IS NULL AND m.submitted_at IS NOT NULL
    RETURNING m.id
""")

# A requeued message means dispatch is not over after all (another lane may have said it was).
_COUNT = text("""
    UPDATE campaigns
       SET sent_count = sent_count + :sent,
           failed_count = failed_count + :failed,
           submitted_count = submitted_count - :requeued,
           dispatch_finished_at = CASE WHEN :requeued > 0 THEN NULL ELSE dispatch_finished_at END
     WHERE shop_id = :shop_id AND id = :campaign_id
""")

_REFUND = text("UPDATE shops SET credits = credits + :refund WHERE id = :shop_id")


def record_outcomes(
    session: Session, shop_id: int, campaign_id: int, outcomes: list[Outcome]
) -> RecordSummary:
    """Write the batch's answers, in the caller's transaction."""
    summary, accepted, failures, requeues = _sort(outcomes)
    keys = {"shop_id": shop_id, "campaign_id": campaign_id}
    breakdown = FailureChanges()  # written last, after the campaign row (core/counts/failures.py)
    variants = VariantChanges()  # likewise (core/counts/variants.py)
    wamids = _accept(session, shop_id, accepted, breakdown, variants)
    summary.accepted = len(wamids)
    summary.failed = _fail(session, shop_id, failures, breakdown, variants)
    if summary.halt is None:
        summary.halt = counted_halt(session, shop_id, campaign_id, failures)
    _unsubscribe_stopped(session, shop_id, failures)
    summary.requeued = _requeue(session, shop_id, requeues)
    if summary.halt is None and summary.requeued:
        # Sends stopped by a halt come back to the queue after it was recorded: they fail
        # with its code too, or they would wait for ever in a campaign that sends no more.
        summary.halt = halted_already(session, shop_id, campaign_id)
    unsent = 0
    if summary.halt:
        unsent = fail_unsent(session, shop_id, campaign_id, summary.halt, breakdown, variants)
    # Statuses that beat the send response and found no message (no callback data to tie them)
    # were parked by the drain: they apply now, with the same ratchet, before anyone can read
    # this message half-updated.
    release_parked(session, shop_id, wamids)
    counts = {"sent": summary.accepted, "failed": summary.failed, "requeued": summary.requeued}
    session.execute(_COUNT, {**keys, **counts})
    if summary.halt is not None:
        summary.halted_now = mark_halted(session, shop_id, campaign_id, summary.halt, unsent)
    breakdown.apply(session)
    variants.apply(session)
    refund = summary.failed + summary.requeued
    if refund:
        session.execute(_REFUND, {"shop_id": shop_id, "refund": refund})
        record_movement(session, shop_id, RETURN, refund, campaign_id, "refused by Meta or not sent")
    return summary


def _sort(outcomes: list[Outcome]):
    summary = RecordSummary()
    accepted, failures, requeues = [], [], []
    now = datetime.now(UTC)
    for outcome in outcomes:
        result = outcome.result
        if outcome.stopped:
            requeues.append((outcome.message_id, now))
        elif result.kind == "accepted":
            accepted.append((outcome.message_id, result))
        elif result.kind == "unknown":
            summary.unconfirmed += 1
        else:
            code = result.code if result.kind == "error" else NOT_SENT_CODE
            decision = decide(code, outcome.attempt)
            if decision.verdict == Verdict.RETRY:
                retry_at = now + timedelta(seconds=decision.delay_s)
                requeues.append((outcome.message_id, retry_at))
                summary.retry_at.append(retry_at)
                summary.pause_number_s = max(summary.pause_number_s, decision.number_pause_s)
                continue
            failures.append((outcome.message_id, code, result))
            if decision.verdict == Verdict.HALT and summary.halt is None:
                summary.halt = HaltReason(code, result.title, result.details)
    return summary, accepted, failures, requeues


def _accept(
    session: Session, shop_id: int, accepted: list, breakdown: FailureChanges, variants: VariantChanges
) -> list[str]:
    if not accepted:
        return []
    statuses = [_status_of(result.message_status) for _, result in accepted]
    rows = session.execute(
        _ACCEPT,
        {
            "shop_id": shop_id,
            "ids": [message_id for message_id, _ in accepted],
            "wamids": [result.wamid for _, result in accepted],
            "wa_ids": [result.wa_id for _, result in accepted],
            "statuses": [str(s) for s in statuses],
            "ranks": [RANK[s] for s in statuses],
        },
    ).all()
    for row in rows:
        failed = FailureKey.of(row.failure_code, False)
        breakdown.moved(shop_id, row.campaign_id, failed, FailureKey.of(row.failure_code, True))
        variants.add(shop_id, row.campaign_id, row.variant_id, sent=1)  # its wamid was NULL
    stored = {row.id for row in rows}
    return [result.wamid for message_id, result in accepted if message_id in stored]


def _status_of(message_status: str | None) -> MessageStatus:
    """Pacing holds a template's messages for a quality check (``held_for_quality_assessment``;
    some providers also report ``paused``); anything else Meta took is accepted."""
    if message_status in ("held_for_quality_assessment", "paused"):
        return MessageStatus.HELD
    return MessageStatus.ACCEPTED


def _fail(
    session: Session, shop_id: int, failures: list, breakdown: FailureChanges, variants: VariantChanges
) -> int:
    if not failures:
        return 0
    infos = [describe(code) for _, code, _ in failures]
    rows = session.execute(
        _FAIL,
        {
            "shop_id": shop_id,
            "failed_rank": RANK[MessageStatus.FAILED],
            "ids": [message_id for message_id, _, _ in failures],
            "codes": [info.code for info in infos],
            "categories": [str(info.category) for info in infos],
            # Meta's own title and details when it gave them; our plain title otherwise.
            "titles": [
                result.title or info.title for (_, _, result), info in zip(failures, infos, strict=True)
            ],
            "details": [result.details for _, _, result in failures],
        },
    ).all()
    for row in rows:
        new = FailureKey.of(row.failure_code, row.accepted)
        breakdown.moved(shop_id, row.campaign_id, FailureKey.of(row.old_code, False), new)
    variants.failed(shop_id, rows)  # each counts as failed once more, as on the campaign (_COUNT)
    return len(rows)


def _unsubscribe_stopped(session: Session, shop_id: int, failures: list) -> None:
    """A 131050 answered at send time is the customer's stop, as in a failed status webhook."""
    stopped = [message_id for message_id, code, _ in failures if code == STOPPED_MARKETING]
    unsubscribe_refused(session, shop_id, stopped, datetime.now(UTC))  # also queues Shopify's write-back


def _requeue(session: Session, shop_id: int, requeues: list) -> int:
    if not requeues:
        return 0
    rows = session.execute(
        _REQUEUE,
        {
            "shop_id": shop_id,
            "ids": [message_id for message_id, _ in requeues],
            "retry_ats": [retry_at for _, retry_at in requeues],
        },
    ).all()
    return len(rows)
