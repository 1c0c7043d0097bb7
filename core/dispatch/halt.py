"""Halting a campaign when Meta answers with an account or template code, or when the shop can
no longer send at all (it uninstalled the app, or disconnected WhatsApp: our own codes).

Every further message would meet the same refusal (a paused template, an expired token, a
payment problem), and each refusal counts against the number's quality. So dispatch stops: the
messages not yet handed to Meta fail with the code that stopped the campaign (marked as our
decision, since Meta never saw them), the campaign records why, and the merchant gets an alert.
Messages already with Meta go on as usual, so the campaign still settles once they have.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.counts.failures import FailureChanges, entered_sql
from core.models import ShopAlert
from core.rules.failure_codes import OurCode, describe


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
    session: Session, shop_id: int, campaign_id: int, reason: HaltReason, breakdown: FailureChanges
) -> int:
    """The message half of a halt (messages are locked before the campaign row); the failures
    join ``breakdown``, for the caller to apply after the campaign row."""
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
    breakdown = FailureChanges()
    failed = fail_unsent(session, shop_id, campaign_id, reason, breakdown)
    halted = mark_halted(session, shop_id, campaign_id, reason, failed)
    breakdown.apply(session)
    return halted
