"""A shop's billed messages and their cost per UTC day, country and pricing category, from the
kept counts (core/counts/billed.py), for the daily reconciliation with Meta's pricing_analytics.

Priced as the campaign pages price them (core/outcomes/pricing.py): the merchant's override
when set, otherwise Meta's card in force that day in the WhatsApp Business Account's currency,
volume tiers included. Messages no card has a rate for count among the messages and add
nothing to the cost. The day is the day the message was sent (core/counts/billed.py says why),
where Meta's analytics count the day it billed, at delivery.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from core.models import Shop
from core.outcomes.pricing import SHOP_DAYS, groups_of, price, shop_pricing


def billed_by_day(
    session: Session, shop_id: int, first_day: date, last_day: date
) -> dict[tuple[date, str, str], tuple[int, Decimal]]:
    """Return ``{(UTC day, ISO country, lower-case category): (billed messages, cost)}`` for the
    days from ``first_day`` to ``last_day``, both included. The country is "" when the number is
    unknown (erased, or a calling code of no country); the cost is in the currency of the card
    that priced it (the account's, or the override's)."""
    shop = session.get(Shop, shop_id)
    rows = session.execute(SHOP_DAYS, {"shop_id": shop_id, "first": first_day, "last": last_day})
    groups = groups_of(rows, key=lambda group: (group.day, group.country or "", group.category))
    priced = price(session, shop_id, shop_pricing(session, shop), groups)
    return {key: (p.billed, p.amount) for key, p in priced.items()}
