"""Route a webhook to its shop by Meta's ``phone_number_id``, before any message is looked up."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Shop


def shops_by_phone_number(session: Session, phone_number_ids: Iterable[str]) -> dict[str, int]:
    """The shop id of each known business phone number id; unknown numbers are left out."""
    wanted = sorted(set(phone_number_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Shop.meta_phone_number_id, Shop.id).where(Shop.meta_phone_number_id.in_(wanted))
    )
    return {phone_number_id: shop_id for phone_number_id, shop_id in rows}
