"""A campaign's audience: customers who agreed to WhatsApp marketing, narrowed by Shopify tags
(exclusion wins).

Who agreed: Shopify's WhatsApp marketing consent says SUBSCRIBED; or, only where the shop chose
so in Settings, Shopify's SMS marketing consent says SUBSCRIBED and the customer never said no
to WhatsApp (a WhatsApp stop always wins). OPTED_IN_SQL is the same rule for raw statements.

A shop may cap marketing (``marketing_cap_hours``, Settings): a marketing campaign leaves out
customers another marketing campaign reached, or is about to reach, in that many hours. Meta
keeps its own per-customer limit on marketing messages and refuses the excess with 131049 after
they are paid for in credits and quality; the cap spends neither.

A "send again" (core/campaigns/fix_loop.py) is one more try of its campaign, never a second
message: its audience leaves out every customer a campaign of the same family (the first
campaign, and every send again of it or of another send again) has sent to, is sending to, or
may have sent to, and every customer one of them held out. Only a message that failed before
Meta took it, for a reason we know, leaves its customer free to be sent again.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import Select, Text, and_, cast, exists, func, literal, not_, or_, select, text
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session

from core.models import Campaign, CampaignHoldout, Customer, Message, Shop
from core.rules.campaign_states import Consent
from core.rules.failure_codes import OurCode
from core.rules.phones import us_area_codes


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


# Shopify keeps a tag as the merchant first typed it ("VIP"); a merchant typing "vip" in a rule
# means the same tag. Rules are stored in the shop's own spellings, so the audience query stays
# an array overlap the tags' index serves.
_TAG_SPELLINGS = text("""
    SELECT DISTINCT t.tag
      FROM customers c CROSS JOIN LATERAL unnest(c.tags) AS t(tag)
     WHERE c.shop_id = :shop_id AND lower(t.tag) = ANY(:lowered)
""")
_SHOP_TAGS = text("""
    SELECT t.tag
      FROM customers c CROSS JOIN LATERAL unnest(c.tags) AS t(tag)
     WHERE c.shop_id = :shop_id
     GROUP BY t.tag
     ORDER BY lower(t.tag), t.tag
     LIMIT :limit
""")


def shop_tags(session: Session, shop_id: int, limit: int = 500) -> list[str]:
    """The tags the shop's customers carry, alphabetically (any case), for the composer's picker."""
    return list(session.scalars(_SHOP_TAGS, {"shop_id": shop_id, "limit": limit}))


def in_shop_spelling(session: Session, shop_id: int, rule: dict) -> dict:
    """``rule`` with each tag replaced by every spelling of it the shop's customers carry, any
    case ("vip" -> ["VIP", "vip"]); a tag no customer carries is kept as typed."""
    typed = [*rule.get("include_tags", []), *rule.get("exclude_tags", [])]
    if not typed:
        return rule
    lowered = sorted({tag.lower() for tag in typed})
    spellings: dict[str, list[str]] = {}
    for tag in session.scalars(_TAG_SPELLINGS, {"shop_id": shop_id, "lowered": lowered}):
        spellings.setdefault(tag.lower(), []).append(tag)

    def spelled(tags: list[str]) -> list[str]:
        found = [s for tag in tags for s in sorted(spellings.get(tag.lower(), [tag]))]
        return list(dict.fromkeys(found))

    return {
        **rule,
        "include_tags": spelled(rule.get("include_tags", [])),
        "exclude_tags": spelled(rule.get("exclude_tags", [])),
    }


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


def marketing_cap(shop: Shop, template_category: str | None) -> int | None:
    """The hours of the shop's marketing cap when it applies to a campaign of this category."""
    return shop.marketing_cap_hours if (template_category or "").upper() == "MARKETING" else None


def recently_marketed(shop_id: int, hours: int):
    """The customer got a message of a marketing campaign in the last ``hours`` hours, or one
    waits in the queue of another marketing campaign (it is about to)."""
    since = func.now() - timedelta(hours=hours)
    return exists().where(
        Message.shop_id == shop_id,
        Message.customer_id == Customer.id,
        or_(Message.accepted_at > since, and_(Message.status == "queued", Message.wamid.is_(None))),
        Campaign.shop_id == Message.shop_id,
        Campaign.id == Message.campaign_id,
        func.upper(Campaign.template_category) == "MARKETING",
    )


def recipients_query(
    shop_id: int, rule: dict, sent_by: Sequence[int] = (), cap_hours: int | None = None
) -> Select:
    """The audience with one customer per recipient key (the earliest customer wins). A rule
    may also name its customers (``customer_ids``: a "send again" to fixed customers) or leave
    out United States numbers (``exclude_us_numbers``), and a send again leaves out who the
    campaigns ``sent_by`` (its family) sent to; ``cap_hours`` leaves out who was marketed to in
    that many hours (``recently_marketed``)."""
    query = audience_query(shop_id, rule.get("include_tags"), rule.get("exclude_tags"))
    if rule.get("exclude_us_numbers"):
        # WhatsApp does not deliver marketing to US numbers (core/campaigns/us_numbers.py): the
        # merchant chose to leave them out rather than pay nothing for 131049 failures.
        us = and_(
            Customer.phone_e164.like("+1%"),
            func.length(Customer.phone_e164) == 12,
            func.substr(Customer.phone_e164, 3, 3).in_(us_area_codes()),
        )
        query = query.where(not_(func.coalesce(us, False)))
    if rule.get("customer_ids") is not None:
        query = query.where(Customer.id.in_([int(i) for i in rule["customer_ids"]]))
    if sent_by:
        query = query.where(not_(exists().where(_sent_to_customer(shop_id, sent_by))))
        query = query.where(not_(exists().where(_held_out_customer(shop_id, sent_by))))
    if cap_hours:
        query = query.where(not_(recently_marketed(shop_id, cap_hours)))
    key = recipient_key()
    return query.ext(distinct_on(key)).order_by(key, Customer.id)


def frequency_capped(
    session: Session, shop_id: int, rule: dict, cap_hours: int, limit: int = 5
) -> list[Customer]:
    """The first ``limit`` customers of ``rule``'s audience that the frequency cap leaves out:
    a marketing campaign reached them in the last ``cap_hours`` hours, or is about to."""
    query = recipients_query(shop_id, rule).where(recently_marketed(shop_id, cap_hours)).limit(limit)
    return list(session.scalars(query))


def estimate(
    session: Session, shop_id: int, rule: dict, follow_up_of: int | None = None, cap_hours: int | None = None
) -> int:
    """How many recipients ``rule`` reaches now; for a send again of ``follow_up_of``, leaving
    out who its family sent to; with ``cap_hours``, who was marketed to in that time."""
    sent_by = follow_up_family(session, shop_id, follow_up_of) if follow_up_of is not None else ()
    query = recipients_query(shop_id, rule, sent_by, cap_hours)
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def _sent_to(shop_id: int, campaign_ids: Sequence[int]):
    """Messages of ``campaign_ids`` that reached Meta, may have, or are still to be sent: all
    but a failure before Meta took the message for a reason we know (our checks, or Meta's
    refusal of the send; an unconfirmed send may have been taken)."""
    return and_(
        Message.shop_id == shop_id,
        Message.campaign_id.in_(list(campaign_ids)),
        or_(
            Message.wamid.is_not(None),
            Message.status != "failed",
            Message.error_code == str(OurCode.SEND_UNCONFIRMED),
        ),
    )


def _sent_to_customer(shop_id: int, campaign_ids: Sequence[int]):
    return and_(_sent_to(shop_id, campaign_ids), Message.customer_id == Customer.id)


def _held_out_customer(shop_id: int, campaign_ids: Sequence[int]):
    """The customer is in the holdout of one of ``campaign_ids``: a send again of a campaign
    keeps its baseline unsent, or the baseline would be spent."""
    return and_(
        CampaignHoldout.shop_id == shop_id,
        CampaignHoldout.campaign_id.in_(list(campaign_ids)),
        CampaignHoldout.customer_id == Customer.id,
    )


def sent_to_customers(session: Session, shop_id: int, campaign_ids: Sequence[int]) -> set[int]:
    """The customers the campaigns ``campaign_ids`` sent to (as ``_sent_to`` means it)."""
    if not campaign_ids:
        return set()
    found = session.scalars(select(Message.customer_id).where(_sent_to(shop_id, campaign_ids)))
    return {customer_id for customer_id in found if customer_id is not None}


# The first campaign of the family (following ``follow_up_of`` up), then every send again
# below it. Families are a handful of campaigns: the recursion is a few index lookups.
_FAMILY = text("""
    WITH RECURSIVE up AS (
        SELECT id, follow_up_of FROM campaigns WHERE shop_id = :shop_id AND id = :campaign_id
        UNION
        SELECT c.id, c.follow_up_of
          FROM campaigns c JOIN up ON c.shop_id = :shop_id AND c.id = up.follow_up_of
    ), down AS (
        SELECT id FROM up WHERE follow_up_of IS NULL
        UNION
        SELECT c.id FROM campaigns c JOIN down ON c.shop_id = :shop_id AND c.follow_up_of = down.id
    )
    SELECT id FROM down ORDER BY id
""")


def follow_up_family(session: Session, shop_id: int, campaign_id: int) -> list[int]:
    """``campaign_id``'s family: the campaign it is a send again of, in turn, up to the first
    one, and every send again of any of them; ``campaign_id`` itself included."""
    return list(session.execute(_FAMILY, {"shop_id": shop_id, "campaign_id": campaign_id}).scalars())
