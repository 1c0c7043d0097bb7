"""A campaign's audience: customers who agreed to WhatsApp marketing, narrowed by Shopify tags
(exclusion wins).

Who agreed: Shopify's WhatsApp marketing consent says SUBSCRIBED; or, only where the shop chose
so in Settings, Shopify's SMS marketing consent says SUBSCRIBED and the customer never said no
to WhatsApp (a WhatsApp stop always wins). OPTED_IN_SQL is the same rule for raw statements.
"""

from __future__ import annotations

from sqlalchemy import Select, Text, and_, cast, exists, func, literal, not_, or_, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from core.models import Customer, Shop
from core.rules.campaign_states import Consent


def audience_query(
    shop_id: int, include_tags: list[str] | None = None, exclude_tags: list[str] | None = None
) -> Select:
    """Customers of the shop who are SUBSCRIBED, carry any of ``include_tags`` (when given) and
    none of ``exclude_tags``. One row per customer, so nobody is counted or messaged twice."""
    query = select(Customer).where(Customer.shop_id == shop_id, opted_in())
    if include_tags:
        query = query.where(Customer.tags.overlap(list(include_tags)))
    if exclude_tags:
        query = query.where(not_(Customer.tags.overlap(list(exclude_tags))))
    return query


REFUSED = (Consent.UNSUBSCRIBED, Consent.REDACTED)

OPTED_IN_SQL = f"""(c.consent = '{Consent.SUBSCRIBED}'
      OR (c.sms_consent = '{Consent.SUBSCRIBED}'
          AND c.consent NOT IN ('{REFUSED[0]}', '{REFUSED[1]}')
          AND EXISTS (SELECT 1 FROM shops s WHERE s.id = c.shop_id AND s.sms_consent_counts)))"""


def opted_in():
    """The consent rule of the module, for a query over ``Customer``."""
    sms_counts = exists().where(Shop.id == Customer.shop_id, Shop.sms_consent_counts)
    by_sms = and_(Customer.sms_consent == Consent.SUBSCRIBED, Customer.consent.not_in(REFUSED), sms_counts)
    return or_(Customer.consent == Consent.SUBSCRIBED, by_sms)


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
