"""Account-level errors (``value.errors``: not tied to one message) become alerts on the shop."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from core.meta_webhooks.parse import MetaError
from core.models import ShopAlert


def store_alerts(session: Session, errors: list[tuple[int, MetaError]]) -> int:
    if not errors:
        return 0
    rows = [
        {
            "shop_id": shop_id,
            "code": error.code or "unknown",
            "title": error.title or "",
            "details": error.details or "",
        }
        for shop_id, error in errors
    ]
    session.execute(insert(ShopAlert), rows)
    return len(rows)
