"""Credit packs bought through Shopify: the purchases a shop asked for, and the one grant each
pays out when Shopify says it is ACTIVE.

Shopify's word arrives several ways: the ``app_purchases_one_time/update`` webhook (at least
once, so possibly many times), the merchant's return from the approval page, a later re-read.
Each is confirmed by reading the purchase back from the Admin API (core/shopify/billing.py)
before it reaches ``apply_status`` here, and every one of them may repeat. So crediting is
guarded twice, in the transaction that grants: the purchase row is locked and granted only while
``credited_at`` is empty, and the grant movement names the purchase under a unique index
(``credit_movements (shop_id, purchase_id)``): a second grant cannot be written at all.

A purchase is found by the shop and Shopify's id together: an id that belongs to another
shop's purchase finds nothing here, whatever the webhook or the caller says.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import CreditPurchase
from core.outcomes.credits import GRANT, move_credits
from core.rules.credit_packs import ACTIVE, FINAL, STATUSES, Pack

# How many purchases the return from Shopify's page re-reads at most (the newest waiting ones).
WAITING_LIMIT = 20


@dataclass(frozen=True)
class Applied:
    """What a status read from Shopify did: ``credited`` is the credits granted now (0 when
    none: not active, already granted, or not this shop's purchase)."""

    found: bool
    status: str | None
    credited: int


def record_purchase(
    session: Session, shop_id: int, pack: Pack, purchase_gid: str, test: bool
) -> CreditPurchase:
    """Keep the purchase Shopify just created for this shop, waiting for the merchant."""
    purchase = CreditPurchase(
        shop_id=shop_id,
        purchase_gid=purchase_gid,
        pack_id=pack.id,
        credits=pack.credits,
        amount=pack.amount,
        currency=pack.currency,
        test=test,
        status="PENDING",
    )
    session.add(purchase)
    session.flush()
    return purchase


def find_purchase(session: Session, shop_id: int, purchase_gid: str) -> CreditPurchase | None:
    return session.scalar(
        select(CreditPurchase).where(
            CreditPurchase.shop_id == shop_id, CreditPurchase.purchase_gid == purchase_gid
        )
    )


def waiting_purchases(session: Session, shop_id: int) -> list[str]:
    """Shopify ids of the shop's purchases not yet credited whose status may still change."""
    return list(
        session.scalars(
            select(CreditPurchase.purchase_gid)
            .where(
                CreditPurchase.shop_id == shop_id,
                CreditPurchase.credited_at.is_(None),
                CreditPurchase.status.not_in(["DECLINED", "EXPIRED"]),
            )
            .order_by(CreditPurchase.id.desc())
            .limit(WAITING_LIMIT)
        )
    )


def apply_status(session: Session, shop_id: int, purchase_gid: str, status: str) -> Applied:
    """Record the status Shopify answered for the shop's purchase and, when it is ACTIVE and
    nothing was granted for it yet, grant its credits in this transaction."""
    if status not in STATUSES:
        raise ValueError(f"Shopify purchase status {status!r} is not one Shopify has")
    purchase = session.scalar(
        select(CreditPurchase)
        .where(CreditPurchase.shop_id == shop_id, CreditPurchase.purchase_gid == purchase_gid)
        .with_for_update()
    )
    if purchase is None:
        return Applied(found=False, status=None, credited=0)
    now = datetime.now(UTC)
    # A final status stays: Shopify never takes a paid purchase back to pending, and an answer
    # read before another that was already applied must not undo it.
    if purchase.status not in FINAL:
        purchase.status = status
    credited = 0
    if purchase.status == ACTIVE and purchase.credited_at is None:
        purchase.credited_at = now
        note = f"credit pack bought through Shopify ({purchase.purchase_gid})"
        move_credits(session, shop_id, GRANT, purchase.credits, note=note, purchase_id=purchase.id)
        credited = purchase.credits
    session.flush()
    return Applied(found=True, status=purchase.status, credited=credited)
