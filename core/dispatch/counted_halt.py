"""Halting on send answers by count: the codes that halt only when enough of a campaign's last
failures are template-wide (131053 header media, 100 invalid parameter;
core/rules/meta_halts.py ``COUNTED``), read the same way the drain reads them for status
webhooks, so one stray refusal fails its message alone and a real one halts within ``TRIPS``.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.meta_webhooks.halt import HaltReason
from core.rules.meta_halts import WINDOW, counted, halting_code

# The campaign's last failures, newest first (by Meta's failure time, then id): the failures
# this batch just wrote are among them, in the caller's transaction.
_LAST_FAILURES = text("""
    SELECT m.error_code
      FROM messages m
     WHERE m.shop_id = :shop_id AND m.campaign_id = :campaign_id AND m.error_code IS NOT NULL
       AND m.status IN ('failed', 'expired')
     ORDER BY m.failed_at DESC NULLS LAST, m.id DESC
     LIMIT :window
""")


def counted_halt(session: Session, shop_id: int, campaign_id: int, failures: list) -> HaltReason | None:
    """The halt the batch's counted refusals trip, or None. ``failures`` are the batch's
    (message id, code, send result), already written as failed."""
    answers = {code: result for _, code, result in failures if counted(code)}
    if not answers:
        return None
    params = {"shop_id": shop_id, "campaign_id": campaign_id, "window": WINDOW}
    newest_first = session.scalars(_LAST_FAILURES, params).all()
    code = halting_code(list(reversed(newest_first)))
    if code is None:
        return None
    result = answers.get(code)
    details = result.details if result is not None else None
    return HaltReason(code, result.title if result is not None else None, details)
