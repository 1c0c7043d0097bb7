"""A campaign's audience: subscribed customers, narrowed by Shopify tags (exclusion wins)."""

from __future__ import annotations

from sqlalchemy import Select, Text, cast, func, literal, not_, select
from sqlalchemy.dialects.postgresql import distinct_on
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


def recipient_key():
    """Two customers with the same WhatsApp number are one recipient (a shared family phone, a
    customer created twice): the number would otherwise get the campaign twice. Customers
    without a usable number stay one recipient each, so their failure is reported."""
    return func.coalesce(Customer.phone_e164, literal("customer:") + cast(Customer.id, Text))


def recipients_query(shop_id: int, rule: dict) -> Select:
    """The audience with one customer per recipient key (the earliest customer wins). A rule
    may also name its customers (``customer_ids``: a "send again" to fixed customers)."""
    query = audience_query(shop_id, rule.get("include_tags"), rule.get("exclude_tags"))
    if rule.get("customer_ids") is not None:
        query = query.where(Customer.id.in_([int(i) for i in rule["customer_ids"]]))
    key = recipient_key()
    return query.ext(distinct_on(key)).order_by(key, Customer.id)


def estimate(session: Session, shop_id: int, rule: dict) -> int:
    query = recipients_query(shop_id, rule)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0
