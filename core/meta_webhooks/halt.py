"""Halting a campaign when Meta answers with an account or template code (to a send, or later
in failed status webhooks: core/rules/meta_halts.py), or when the shop can no longer send at
all (it uninstalled the app, or disconnected WhatsApp: our own codes).

Every further message would meet the same refusal (a paused template, an expired token, a
payment problem), and each refusal counts against the number's quality. So dispatch stops: the
messages not yet handed to Meta fail with the code that stopped the campaign (marked as our
decision, since Meta never saw them), the campaign records why, and the merchant gets an alert.
Messages already with Meta go on as usual, so the campaign still settles once they have.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.counts.failures import FailureChanges, entered_sql
from core.counts.variants import VariantChanges
from core.models import ShopAlert
from core.rules.failure_codes import OurCode, describe
from core.rules.meta_halts import WINDOW, Scope, halting_code, scope


@dataclass(frozen=True)
class HaltReason:
    code: str
    title: str | None = None
    details: str | None = None

    @property
    def ours(self) -> bool:
        """Decided by the app (the shop cannot send any more), not answered by Meta."""
        return self.code in set(OurCode)

    def sentence(self) -> str:
        info = describe(self.code)
        if self.ours:
            return f"Sending stopped. {info.title}. {info.remedy}"
        said = f": {self.details.rstrip('.')}" if self.details else ""
        return f"WhatsApp answered {self.code} ({self.title or info.title}){said}. {info.remedy}"

    def not_sent_details(self) -> str:
        """What a message the halt kept from Meta says about why."""
        if self.ours:
            return f"Not sent: the campaign stopped. {describe(self.code).title}."
        return f"Not sent: the campaign stopped when WhatsApp answered {self.code} for another message."


APP_UNINSTALLED = HaltReason(OurCode.APP_UNINSTALLED)
WHATSAPP_DISCONNECTED = HaltReason(OurCode.WHATSAPP_DISCONNECTED)


# Queued messages: each enters the failure breakdown (core/counts/failures.py).
_FAIL_UNSENT = text(f"""
    UPDATE messages
       SET status = 'failed', failed_at = now(), error_code = :code, error_category = :category,
           error_title = :title, error_details = :details, error_source = 'ours', retry_at = NULL
     WHERE shop_id = :shop_id AND campaign_id = :campaign_id
       AND status = 'queued' AND submitted_at IS NULL
    RETURNING {entered_sql("messages")}
""")

_COUNT = text("""
    UPDATE campaigns
       SET failed_count = failed_count + :failed,
           failed_before_send_count = failed_before_send_count + :failed
     WHERE shop_id = :shop_id AND id = :campaign_id
""")

_MARK = text("""
    UPDATE campaigns SET halted_reason = :reason, halted_code = :code
     WHERE shop_id = :shop_id AND id = :campaign_id AND halted_reason IS NULL
    RETURNING id
""")


_HALTED = text("SELECT halted_code FROM campaigns WHERE shop_id = :shop_id AND id = :campaign_id")


def halted_already(session: Session, shop_id: int, campaign_id: int) -> HaltReason | None:
    """The halt an earlier batch (or another lane) recorded, if any."""
    code = session.execute(_HALTED, {"shop_id": shop_id, "campaign_id": campaign_id}).scalar()
    return HaltReason(code) if code else None


def fail_unsent(
    session: Session,
    shop_id: int,
    campaign_id: int,
    reason: HaltReason,
    breakdown: FailureChanges,
    variants: VariantChanges,
) -> int:
    """The message half of a halt (messages are locked before the campaign row); the failures
    join ``breakdown`` and ``variants``, for the caller to apply after the campaign row."""
    info = describe(reason.code)
    rows = session.execute(
        _FAIL_UNSENT,
        {
            "shop_id": shop_id,
            "campaign_id": campaign_id,
            "code": info.code,
            "category": str(info.category),
            "title": info.title,
            "details": reason.not_sent_details(),
        },
    ).all()
    breakdown.entered(shop_id, rows)
    variants.failed(shop_id, rows)
    return len(rows)


def mark_halted(session: Session, shop_id: int, campaign_id: int, reason: HaltReason, failed: int) -> bool:
    """The campaign half of a halt: count the unsent failures, record why, alert once.
    True when this call halted the campaign (False: it was halted already)."""
    keys = {"shop_id": shop_id, "campaign_id": campaign_id}
    session.execute(_COUNT, {**keys, "failed": failed})
    if session.execute(_MARK, {**keys, "reason": reason.sentence(), "code": reason.code}).first() is None:
        return False
    info = describe(reason.code)
    session.add(
        ShopAlert(
            shop_id=shop_id,
            campaign_id=campaign_id,
            code=info.code,
            title=f"Campaign stopped: {info.title}",
            details=reason.sentence(),
        )
    )
    return True


def halt_campaign(session: Session, shop_id: int, campaign_id: int, reason: HaltReason) -> bool:
    """Halt a campaign for a reason found outside a send answer (the shop uninstalled the app or
    disconnected WhatsApp), in the caller's transaction: the unsent messages first, then the
    campaign row, then the kept failure breakdown (the lock order every writer keeps). True when
    this call halted it."""
    breakdown, variants = FailureChanges(), VariantChanges()
    failed = fail_unsent(session, shop_id, campaign_id, reason, breakdown, variants)
    halted = mark_halted(session, shop_id, campaign_id, reason, failed)
    breakdown.apply(session)
    variants.apply(session)
    return halted


_SENDING = text("""
    SELECT id FROM campaigns
     WHERE shop_id = :shop_id AND status = 'PENDING' AND halted_reason IS NULL
       AND (CAST(:name AS text) IS NULL
            OR (template_name = :name AND (CAST(:language AS text) IS NULL OR template_language = :language))
            OR variants @> CAST(:variant AS jsonb))
     ORDER BY id
""")


def halt_sending_campaigns(
    session: Session, shop_id: int, reason: HaltReason, template: tuple[str, str | None] | None = None
) -> list[int]:
    """Halt every campaign of the shop still sending (of ``template``, name and language, when
    given) for a reason Meta gave about the account or a template rather than one message.
    The ids this call halted, each with its own alert."""
    name, language = template or (None, None)
    # An A/B campaign sending the template in any of its variants halts too.
    variant = json.dumps([{"template": {"name": name, **({"language": language} if language else {})}}])
    params = {"shop_id": shop_id, "name": name, "language": language, "variant": variant}
    ids = session.execute(_SENDING, params).scalars().all()
    return [campaign_id for campaign_id in ids if halt_campaign(session, shop_id, campaign_id, reason)]


# The campaigns the failed statuses of one shop's part of a batch belong to (still sending, not
# halted), each with its last failure codes, oldest first: one statement, naming its one shop (on
# Citus, one shard: docs/scaling.md).
_RECENT_FAILURES = text("""
    WITH hit AS (
        SELECT DISTINCT m.campaign_id
          FROM unnest(CAST(:wamids AS text[])) AS u(wamid)
          JOIN messages m ON m.shop_id = :shop_id AND m.wamid = u.wamid
         WHERE m.campaign_id IS NOT NULL
    )
    SELECT c.shop_id, c.id, recent.codes
      FROM hit JOIN campaigns c ON c.shop_id = :shop_id AND c.id = hit.campaign_id
     CROSS JOIN LATERAL (
        SELECT array_agg(last.error_code ORDER BY last.failed_at, last.id) AS codes
          FROM (SELECT m.error_code, m.failed_at, m.id
                  FROM messages m
                 WHERE m.shop_id = :shop_id AND m.campaign_id = c.id AND m.error_code IS NOT NULL
                   AND m.status IN ('failed', 'expired')
                 ORDER BY m.failed_at DESC NULLS LAST, m.id DESC
                 LIMIT :window) AS last
     ) AS recent
     WHERE c.status = 'PENDING' AND c.halted_reason IS NULL
     ORDER BY c.id
""")


_TRIPPED = text("""
    SELECT DISTINCT ON (m.shop_id, m.campaign_id) m.shop_id, m.campaign_id, u.code
      FROM unnest(CAST(:shop_ids AS bigint[]), CAST(:wamids AS text[]), CAST(:codes AS text[]))
           AS u(shop_id, wamid, code)
      JOIN messages m ON m.shop_id = u.shop_id AND m.wamid = u.wamid
      JOIN campaigns c ON c.shop_id = m.shop_id AND c.id = m.campaign_id
     WHERE c.status = 'PENDING' AND c.halted_reason IS NULL
     ORDER BY m.shop_id, m.campaign_id
""")


def halt_tripped(session: Session, trips: list[tuple[int, str, str]]) -> int:
    """Halt at once the campaigns of failed statuses whose code is account-wide (shop id, wamid,
    code), ahead of applying the statuses themselves (core/meta_webhooks/drain.py
    ``halt_first``); how many this call halted. The statuses are applied afterwards as usual,
    and find their campaigns halted already."""
    if not trips:
        return 0
    rows = session.execute(
        _TRIPPED,
        {"shop_ids": [t[0] for t in trips], "wamids": [t[1] for t in trips], "codes": [t[2] for t in trips]},
    ).all()
    reasons = {
        row.code: HaltReason(row.code, details="reported in failed delivery statuses of this campaign")
        for row in rows
    }
    return sum(halt_campaign(session, row.shop_id, row.campaign_id, reasons[row.code]) for row in rows)


@dataclass(frozen=True)
class WebhookHalt:
    shop_id: int
    campaign_id: int
    reason: HaltReason
    unsent: int


def halts_for_failures(
    session: Session,
    shop_id: int,
    failures: list[tuple[str, str]],
    breakdown: FailureChanges,
    variants: VariantChanges,
) -> list[WebhookHalt]:
    """The message half of halting the campaigns a batch's failed statuses trip
    (core/rules/meta_halts.py): ``failures`` are (wamid, code) of ``shop_id``'s part of the
    batch, applied already. Per-recipient codes cannot trip anything, so a batch without others
    reads nothing. The unsent messages of each tripped campaign fail here (messages before
    campaign rows); ``finish_halts`` records the halts once the caller has moved the campaign
    counters."""
    wanted = sorted({wamid for wamid, code in failures if scope(code) != Scope.RECIPIENT})
    if not wanted:
        return []
    rows = session.execute(_RECENT_FAILURES, {"shop_id": shop_id, "wamids": wanted, "window": WINDOW}).all()
    halts = []
    for _shop_id, campaign_id, codes in rows:
        code = halting_code(codes or [])
        if code is None:
            continue
        reason = HaltReason(code, details="reported in failed delivery statuses of this campaign")
        halts.append(
            WebhookHalt(
                shop_id,
                campaign_id,
                reason,
                fail_unsent(session, shop_id, campaign_id, reason, breakdown, variants),
            )
        )
    return halts


def finish_halts(session: Session, halts: list[WebhookHalt]) -> int:
    """The campaign half: record each halt and alert once; how many this call halted."""
    return sum(mark_halted(session, h.shop_id, h.campaign_id, h.reason, h.unsent) for h in halts)
