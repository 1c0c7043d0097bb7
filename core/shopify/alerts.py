"""Shop alerts about Shopify: a consent webhook we could not read, stops Shopify refused to
take. Each says what happened and what the merchant can do (``shop_alerts``)."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from core.models import ShopAlert


def raise_alert(session: Session, shop_id: int, code: str, title: str, details: str) -> None:
    """Open a new alert: one per event the merchant must look at."""
    session.execute(insert(ShopAlert).values(shop_id=shop_id, code=code, title=title, details=details))


def keep_open(session: Session, shop_id: int, code: str, title: str, details: str) -> None:
    """The shop's one open alert of ``code`` says ``details`` now (opened if none is)."""
    open_alert = session.scalar(
        select(ShopAlert.id)
        .where(ShopAlert.shop_id == shop_id, ShopAlert.code == code, ShopAlert.resolved_at.is_(None))
        .order_by(ShopAlert.id)
        .limit(1)
    )
    if open_alert is None:
        raise_alert(session, shop_id, code, title, details)
    else:
        session.execute(
            update(ShopAlert)
            .where(ShopAlert.shop_id == shop_id, ShopAlert.id == open_alert)
            .values(title=title, details=details)
        )


def resolve(session: Session, shop_id: int, code: str) -> None:
    """Mark the shop's open alerts of ``code`` resolved."""
    session.execute(
        update(ShopAlert)
        .where(ShopAlert.shop_id == shop_id, ShopAlert.code == code, ShopAlert.resolved_at.is_(None))
        .values(resolved_at=func.now())
    )
