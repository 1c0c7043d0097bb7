"""Read what Meta billed a shop's WhatsApp Business Account for a range of UTC days, keep it,
and check the drift: what the daily job and ``flask --app web meta-billing`` run.

Meta is asked outside any transaction (read the connection, let go, call, then write). When
Meta cannot be reached nothing changes and the next run tries again. When Meta refuses (an
expired or revoked token, a missing permission, a rate limit) what was stored stays as it was
and the shop gets one open ``META_BILLING_UNREAD`` alert with Meta's words, resolved by the
next read Meta answers, as core/whatsapp/recheck.py does for the connection check.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, update

from core.crypto import decrypt_token
from core.db import session_scope
from core.models import Shop, ShopAlert
from core.reconcile.drift import check_drift
from core.reconcile.meta_rows import store_billing
from core.rules.alert_codes import AlertCode
from core.whatsapp.graph import GraphRefused, GraphUnreachable
from core.whatsapp.pricing_analytics import read_billing

log = logging.getLogger(__name__)
UNREAD_CODE = AlertCode.META_BILLING_UNREAD
# Meta revises recent days: each run reads yesterday and the days before it again.
DAYS_BACK = 4


@dataclass(frozen=True)
class ReadOutcome:
    outcome: str  # "reconciled", "drift", "refused", "unreachable", "not_connected"
    rows: int = 0
    drifting: int = 0


def recent_days(today: date | None = None) -> tuple[date, date]:
    """The days a daily run reads: yesterday and the ``DAYS_BACK - 1`` before it (UTC)."""
    today = today or datetime.now(UTC).date()
    return today - timedelta(days=DAYS_BACK), today - timedelta(days=1)


def read_meta_billing(shop_id: int, first_day: date, last_day: date) -> ReadOutcome:
    """Read, keep and compare the shop's days ``first_day``..``last_day``."""
    with session_scope() as session:  # read, then let go: no transaction while Meta answers
        shop = session.get(Shop, shop_id)
        if shop is None or not (shop.meta_waba_id and shop.meta_access_token_ciphertext):
            return ReadOutcome("not_connected")
        waba_id, token = shop.meta_waba_id, decrypt_token(shop.meta_access_token_ciphertext)
    try:
        billing = read_billing(waba_id, token, first_day, last_day)
    except GraphUnreachable:
        return ReadOutcome("unreachable")
    except GraphRefused as refusal:
        log.warning("Meta refused the billing read of shop %s (code %s)", shop_id, refusal.code)
        with session_scope() as session:
            _raise_unread(session, shop_id, refusal)
        return ReadOutcome("refused")
    with session_scope() as session:
        if session.get(Shop, shop_id).meta_waba_id != waba_id:
            return ReadOutcome("not_connected")  # another account was connected meanwhile
        rows = store_billing(session, shop_id, waba_id, first_day, last_day, billing, datetime.now(UTC))
        _resolve_unread(session, shop_id)
        drifting = check_drift(session, shop_id, first_day, last_day)
    return ReadOutcome("drift" if drifting else "reconciled", rows, len(drifting))


def _raise_unread(session, shop_id: int, refusal: GraphRefused) -> None:
    details = f"Meta said: {refusal.message} (code {refusal.code})"
    open_alert = session.scalar(
        select(ShopAlert.id).where(
            ShopAlert.shop_id == shop_id, ShopAlert.code == UNREAD_CODE, ShopAlert.resolved_at.is_(None)
        )
    )
    if open_alert is None:
        title = "Meta did not answer what it billed"
        session.add(ShopAlert(shop_id=shop_id, code=UNREAD_CODE, title=title, details=details))


def _resolve_unread(session, shop_id: int) -> None:
    session.execute(
        update(ShopAlert)
        .where(ShopAlert.shop_id == shop_id, ShopAlert.code == UNREAD_CODE, ShopAlert.resolved_at.is_(None))
        .values(resolved_at=datetime.now(UTC))
    )
