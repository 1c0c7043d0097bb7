"""Our billed messages and their cost per UTC day, recipient country and pricing category:
the side of the reconciliation Meta's ``pricing_analytics`` is compared with.

Not core/outcomes/billed_days.py's kept counts, though they have the same signature: those are
keyed by the day a message was sent and its calling code, and Meta bills by the day of delivery
and the number's region (a Canadian +1 number is CA, not US), so comparing them would raise
drift that is not there. It reads the messages directly, with the billed rule of core/outcomes/credits.py
(``BILLED_SQL``: delivered, and billable by Meta's pricing) and the pricing of
core/outcomes/pricing.py (the card in force on the day, or the shop's override; the
template's category until Meta said one).
The day is the UTC day of ``delivered_at`` (the first delivered or read status's time): Meta
bills a message when it is delivered. The country is the recipient number's, as Meta bills it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache

import phonenumbers
from sqlalchemy import text
from sqlalchemy.orm import Session

from core.models import Shop
from core.outcomes.credits import BILLED_SQL
from core.outcomes.pricing import shop_pricing
from core.outcomes.rate_card import country_of_prefix

_BILLED_BY_DAY = text(f"""
    SELECT (m.delivered_at AT TIME ZONE 'UTC')::date AS day, COALESCE(m.phone, '') AS phone,
           lower(COALESCE(NULLIF(m.pricing_category, ''), k.template_category, '')) AS category,
           count(*) AS n
      FROM messages m
      JOIN campaigns k ON k.shop_id = m.shop_id AND k.id = m.campaign_id
     WHERE m.shop_id = :shop_id AND m.delivered_at >= :start AND m.delivered_at < :end AND {BILLED_SQL}
     GROUP BY 1, 2, 3
""")


def billed_by_day(
    session: Session, shop_id: int, first_day: date, last_day: date
) -> dict[tuple[date, str, str], tuple[int, Decimal]]:
    """(UTC day, ISO country, lower-case category) -> (billed messages, cost by the shop's card)."""
    shop = session.get(Shop, shop_id)
    pricing = shop_pricing(session, shop) if shop else None
    start = datetime.combine(first_day, time(), UTC)
    keys = {
        "shop_id": shop_id,
        "start": start,
        "end": datetime.combine(last_day, time(), UTC) + timedelta(days=1),
    }
    found: dict[tuple[date, str, str], list] = defaultdict(lambda: [0, Decimal(0)])
    for row in session.execute(_BILLED_BY_DAY, keys):
        country = country_of_number(row.phone)
        category = row.category.replace("-", "_")
        tally = found[(row.day, country, category)]
        tally[0] += row.n
        card = pricing.card_on(row.day) if pricing else None  # the card in force that day
        tally[1] += ((card.rate(country or None, category) if card else None) or Decimal(0)) * row.n
    return {key: (n, cost) for key, (n, cost) in found.items()}


@lru_cache(maxsize=65536)
def country_of_number(phone: str) -> str:
    """The ISO country of an E.164 number ('' once erased): its region, as Meta bills it (a
    Canadian +1 number is CA), or its calling code's main country."""
    if not phone:
        return ""
    try:
        region = phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        region = None
    return region or country_of_prefix(phone.lstrip("+")) or ""
