"""A campaign's audience: subscribed customers, narrowed by Shopify tags (exclusion wins)."""

from __future__ import annotations

from sqlalchemy import Select, func, not_, select
from sqlalchemy.orm import Session

from core.campaigns import Consent
from core.models import Customer


def audience_query(
    shop_id: int, include_tags: list[str] | None = None, exclude_tags: list[str] | None = None
) -> Select:
    """Customers of the shop who are SUBSCRIBED, carry any of ``include_tags`` (when given) and
    none of ``exclude_tags``. One row per customer, so nobody is counted or messaged twice."""
    query = select(Customer).where(Customer.shop_id == shop_id, Customer.consent == Consent.SUBSCRIBED)
    if include_tags:
        query = query.where(Customer.tags.overlap(list(include_tags)))
    if exclude_tags:
        query = query.where(not_(Customer.tags.overlap(list(exclude_tags))))
    return query


def estimate(session: Session, shop_id: int, rule: dict) -> int:
    query = audience_query(shop_id, rule.get("include_tags"), rule.get("exclude_tags"))
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0
