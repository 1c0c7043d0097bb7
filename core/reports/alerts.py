"""The shop's open alerts as the merchant sees them (``shop_alerts``), and their dismissal.

Producers may open the same alert again while one is open (an account error Meta repeats, one
consent webhook after another): the merchant sees one alert per code and campaign, the newest,
with how many it stands for, and dismissing it closes them all. Each says what happened in plain
words, what to do (core/rules/alert_codes.py, reusing the failure remedies for Meta's codes) and
where to act. Alerts the app resolves itself (a connection Meta accepts again, stops Shopify took
at last) leave the list the same way: ``resolved_at`` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from core.models import Campaign, ShopAlert
from core.rules.alert_codes import ActIn, Tone, guide

LIMIT = 20  # at most this many alerts (after folding repeats), newest first
FALLBACK_TITLE = "WhatsApp reported a problem with your account"


@dataclass(frozen=True)
class AlertView:
    id: int
    code: str
    title: str
    details: str
    remedy: str
    tone: Tone
    act_in: ActIn
    campaign_id: int | None
    campaign_name: str | None
    created_at: datetime
    first_at: datetime  # the oldest open alert this one stands for
    count: int

    def as_json(self) -> dict:
        campaign = {"id": self.campaign_id, "name": self.campaign_name} if self.campaign_id else None
        return {
            "id": self.id,
            "code": self.code,
            "title": self.title,
            "details": self.details,
            "remedy": self.remedy,
            "tone": str(self.tone),
            "campaign": campaign,
            "created_at": self.created_at.isoformat(),
            "count": self.count,
        }


def open_alerts(session: Session, shop_id: int, campaign_id: int | None = None) -> list[AlertView]:
    """The shop's open alerts (only ``campaign_id``'s when given), one per code and campaign,
    newest first, at most ``LIMIT``."""
    group = (ShopAlert.code, ShopAlert.campaign_id)
    conditions = [ShopAlert.shop_id == shop_id, ShopAlert.resolved_at.is_(None)]
    if campaign_id is not None:
        conditions.append(ShopAlert.campaign_id == campaign_id)
    newest = (
        select(
            ShopAlert.id,
            ShopAlert.code,
            ShopAlert.campaign_id,
            ShopAlert.title,
            ShopAlert.details,
            ShopAlert.created_at,
            func.count().over(partition_by=group).label("count"),
            func.min(ShopAlert.created_at).over(partition_by=group).label("first_at"),
        )
        .where(*conditions)
        .ext(distinct_on(*group))
        .order_by(*group, ShopAlert.created_at.desc(), ShopAlert.id.desc())
        .subquery()
    )
    query = (
        select(newest, Campaign.name)
        .outerjoin(Campaign, and_(Campaign.shop_id == shop_id, Campaign.id == newest.c.campaign_id))
        .order_by(newest.c.created_at.desc(), newest.c.id.desc())
        .limit(LIMIT)
    )
    return [_view(row) for row in session.execute(query)]


def _view(row) -> AlertView:
    about = guide(row.code, row.campaign_id is not None)
    title, details = row.title or "", row.details or ""
    if about.title:  # Meta's words are kept, below the plain title
        if title and title != about.title:
            details = f"WhatsApp said: {title}. {details}".strip()
        title = about.title
    return AlertView(
        id=row.id,
        code=row.code,
        title=title or FALLBACK_TITLE,
        details=details,
        remedy=about.remedy,
        tone=about.tone,
        act_in=about.act_in,
        campaign_id=row.campaign_id,
        campaign_name=row.name,
        created_at=row.created_at,
        first_at=row.first_at,
        count=row.count,
    )


def dismiss(session: Session, shop_id: int, alert_id: int) -> bool:
    """The merchant dismissed an alert: it is resolved, with every open alert it stands for (same
    code and campaign). False when the shop has no such alert; dismissing twice is harmless."""
    alert = session.get(ShopAlert, (shop_id, alert_id))
    if alert is None:
        return False
    if alert.resolved_at is None:
        same_campaign = (
            ShopAlert.campaign_id.is_(None)
            if alert.campaign_id is None
            else ShopAlert.campaign_id == alert.campaign_id
        )
        session.execute(
            update(ShopAlert)
            .where(
                ShopAlert.shop_id == shop_id,
                ShopAlert.code == alert.code,
                same_campaign,
                ShopAlert.resolved_at.is_(None),
            )
            .values(resolved_at=datetime.now(UTC))
        )
    return True
