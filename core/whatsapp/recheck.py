"""Check a connected number with Meta again, as a periodic job does: quality ratings, limits
and throughput change over time, and a subscription or a token can be lost. The facts the
Settings page shows, and the send cap, follow what Meta says now.

Meta unreachable: nothing changes (the next run tries again). Meta refusing (a revoked token, a
number moved away): the connection stays as it was, and the shop gets one open alert naming
Meta's reason, until a check succeeds again.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import select, update

from core.db import session_scope
from core.models import Shop, ShopAlert
from core.rules.alert_codes import AlertCode
from core.whatsapp.connect import ConnectionRefused, ConnectRequest, check_with_meta, store_connection
from core.whatsapp.graph import GraphUnreachable

log = logging.getLogger(__name__)
ALERT_CODE = AlertCode.WHATSAPP_CHECK_REFUSED


def connected_shop_ids() -> list[int]:
    """Every installed shop with a number, an account and a token."""
    with session_scope() as session:
        return list(
            session.scalars(
                select(Shop.id).where(
                    Shop.uninstalled_at.is_(None),
                    Shop.meta_phone_number_id.is_not(None),
                    Shop.meta_waba_id.is_not(None),
                    Shop.meta_access_token_ciphertext.is_not(None),
                )
            )
        )


def recheck(shop_id: int, app_id: str | None) -> str:
    """Check one shop's connection with Meta and store what Meta says; answer the outcome."""
    with session_scope() as session:  # read, then let go: no transaction while Meta answers
        shop = session.get(Shop, shop_id)
        if shop is None or not (shop.meta_phone_number_id and shop.meta_access_token_ciphertext):
            return "not_connected"
        request = ConnectRequest.stored(shop)
    try:
        facts = check_with_meta(request, app_id)
    except GraphUnreachable:
        return "unreachable"
    except ConnectionRefused as refusal:
        log.warning("WhatsApp check of shop %s refused by Meta (%s)", shop_id, refusal.errors[0]["field"])
        _raise_alert(shop_id, refusal)
        return "refused"
    with session_scope() as session:
        if session.get(Shop, shop_id).meta_phone_number_id != request.phone_number_id:
            return "changed"  # the merchant connected another number meanwhile
        store_connection(session, shop_id, request, facts)
        _resolve_alert(session, shop_id)
    return "checked"


def _raise_alert(shop_id: int, refusal: ConnectionRefused) -> None:
    error = refusal.errors[0]
    with session_scope() as session:
        open_alert = session.scalar(
            select(ShopAlert.id).where(
                ShopAlert.shop_id == shop_id, ShopAlert.code == ALERT_CODE, ShopAlert.resolved_at.is_(None)
            )
        )
        if open_alert is None:
            title = "Meta refused the WhatsApp connection check"
            session.add(
                ShopAlert(
                    shop_id=shop_id,
                    code=ALERT_CODE,
                    title=title,
                    details=f"{error['field']}: {error['message']}",
                )
            )


def _resolve_alert(session, shop_id: int) -> None:
    session.execute(
        update(ShopAlert)
        .where(ShopAlert.shop_id == shop_id, ShopAlert.code == ALERT_CODE, ShopAlert.resolved_at.is_(None))
        .values(resolved_at=datetime.now(UTC))
    )
