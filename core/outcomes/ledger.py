"""The credit ledger as the merchant reads it (Settings and ``GET /api/credits``): the balance,
what campaigns still sending hold, and each movement with its campaign or its purchase."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from core.models import Campaign, CreditMovement, CreditPurchase
from core.rules.campaign_states import CampaignStatus


@dataclass(frozen=True)
class LedgerPurchase:
    id: int
    purchase_gid: str
    pack_id: str
    credits: int
    amount: Decimal
    currency: str
    status: str
    test: bool


@dataclass(frozen=True)
class LedgerMovement:
    kind: str
    amount: int
    shortfall: int
    campaign_id: int | None
    campaign_name: str | None
    purchase: LedgerPurchase | None
    note: str
    created_at: datetime


def reserved_credits(session: Session, shop_id: int) -> int:
    """Credits held by campaigns still sending: reserved for their messages and not yet given
    back or settled (what their movements took, net)."""
    held = session.scalar(
        select(func.coalesce(-func.sum(CreditMovement.amount), 0))
        .select_from(CreditMovement)
        .join(
            Campaign,
            and_(Campaign.shop_id == CreditMovement.shop_id, Campaign.id == CreditMovement.campaign_id),
        )
        .where(CreditMovement.shop_id == shop_id, Campaign.status == CampaignStatus.PENDING)
    )
    return max(int(held or 0), 0)


def ledger(session: Session, shop_id: int, limit: int = 50) -> list[LedgerMovement]:
    """The shop's latest movements, newest first, each with its campaign's name or purchase."""
    rows = session.execute(
        select(CreditMovement, Campaign.name, CreditPurchase)
        .outerjoin(
            Campaign,
            and_(Campaign.shop_id == CreditMovement.shop_id, Campaign.id == CreditMovement.campaign_id),
        )
        .outerjoin(
            CreditPurchase,
            and_(
                CreditPurchase.shop_id == CreditMovement.shop_id,
                CreditPurchase.id == CreditMovement.purchase_id,
            ),
        )
        .where(CreditMovement.shop_id == shop_id)
        .order_by(CreditMovement.created_at.desc(), CreditMovement.id.desc())
        .limit(limit)
    )
    return [
        LedgerMovement(
            kind=m.kind,
            amount=m.amount,
            shortfall=m.shortfall,
            campaign_id=m.campaign_id,
            campaign_name=name,
            purchase=_purchase(p) if p is not None else None,
            note=m.note,
            created_at=m.created_at,
        )
        for m, name, p in rows
    ]


def _purchase(p: CreditPurchase) -> LedgerPurchase:
    return LedgerPurchase(p.id, p.purchase_gid, p.pack_id, p.credits, p.amount, p.currency, p.status, p.test)
