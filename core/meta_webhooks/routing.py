"""Route a webhook to its shop by Meta's ``phone_number_id``, before any message is looked up."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from core.models import Shop, WhatsAppConnection


def shops_by_phone_number(session: Session, phone_number_ids: Iterable[str]) -> dict[str, int]:
    """The shop id of each known business phone number id; unknown numbers are left out.

    A number a shop has disconnected still routes to that shop until another shop connects it:
    statuses of messages it sent keep arriving for days (history stays)."""
    wanted = sorted(set(phone_number_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Shop.meta_phone_number_id, Shop.id).where(Shop.meta_phone_number_id.in_(wanted))
    )
    found = {phone_number_id: shop_id for phone_number_id, shop_id in rows}
    missing = [n for n in wanted if n not in found]
    if missing:
        found |= _last_connected(session, missing)
    return found


def _last_connected(session: Session, phone_number_ids: list[str]) -> dict[str, int]:
    """The shop that most recently disconnected each number."""
    rows = session.execute(
        select(WhatsAppConnection.phone_number_id, WhatsAppConnection.shop_id)
        .where(
            WhatsAppConnection.phone_number_id.in_(phone_number_ids),
            WhatsAppConnection.disconnected_at.is_not(None),
        )
        .order_by(WhatsAppConnection.phone_number_id, WhatsAppConnection.disconnected_at.desc())
        .ext(distinct_on(WhatsAppConnection.phone_number_id))
    )
    return {phone_number_id: shop_id for phone_number_id, shop_id in rows}


def shops_by_waba(session: Session, waba_ids: Iterable[str]) -> dict[str, list[int]]:
    """The shops connected to each WhatsApp Business Account id: account-level webhooks
    (template status, number quality, limits) name the account, not a number. Only shops
    connected now: a shop that disconnected has no campaign the account's news could stop."""
    wanted = sorted(set(waba_ids))
    if not wanted:
        return {}
    found: dict[str, list[int]] = {}
    rows = session.execute(
        select(Shop.meta_waba_id, Shop.id).where(Shop.meta_waba_id.in_(wanted)).order_by(Shop.id)
    )
    for waba_id, shop_id in rows:
        found.setdefault(waba_id, []).append(shop_id)
    return found
