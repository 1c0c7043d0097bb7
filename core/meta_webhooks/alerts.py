"""Account-level errors (``value.errors``: not tied to one message) become alerts on the shop;
an account-wide code (core/rules/meta_halts.py: payment, spam rate limit, a restriction, the
token) also halts every campaign of the shop still sending, since Meta would refuse each of its
further messages. A campaign halted that way carries its own alert, so the shop-level alert is
raised only when no campaign was sending."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from core.meta_webhooks.halt import HaltReason, halt_sending_campaigns
from core.meta_webhooks.parse import MetaError
from core.models import ShopAlert
from core.rules.meta_halts import Scope, scope


def store_alerts(session: Session, errors: list[tuple[int, MetaError]]) -> int:
    rows = [
        {
            "shop_id": shop_id,
            "code": error.code or "unknown",
            "title": error.title or "",
            "details": error.details or "",
        }
        for shop_id, error in errors
        if not _halted_campaigns(session, shop_id, error)
    ]
    if rows:
        session.execute(insert(ShopAlert), rows)
    return len(errors)


def _halted_campaigns(session: Session, shop_id: int, error: MetaError) -> bool:
    if not error.code or scope(error.code) != Scope.ACCOUNT:
        return False
    reason = HaltReason(error.code, title=error.title, details=error.details)
    return bool(halt_sending_campaigns(session, shop_id, reason))
