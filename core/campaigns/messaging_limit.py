"""Meta's messaging limit, checked before a campaign sends rather than learned from its failures.

Meta lets a business portfolio reach a limited number of unique customers per rolling 24 hours
with business-initiated messages (250, 2,000, 10,000, 100,000 or unlimited; since October 2025
the limit is the portfolio's, shared by all of its numbers: Meta's messaging-limits page). Past
it, Meta fails each further message, and each such failure counts against the number.

So a launch compares the audience with the room left: the limit as Meta last stated it
(``business_capability_update`` and ``phone_number_quality_update`` webhooks, or the
``whatsapp_business_manager_messaging_limit`` read at connect and every six hours) minus the
customers this shop's messages reached in the last 24 hours. Other apps or numbers of the same
portfolio use the same limit without our knowing, so the room is an upper bound.

Over it, the merchant can spread the campaign (``spread_over_limit``): the first wave takes the
room left at launch, each further wave the whole limit, WAVE_GAP apart. Dispatch already waits
for a message's ``retry_at``, so a wave is only a due time written on its messages when the
audience becomes messages (core/dispatch/materialise.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.models import Shop
from core.rules.account_events import UNLIMITED, messaging_limit
from core.whatsapp.state import connection_of

WINDOW = timedelta(hours=24)
# A wave starts a little after the window that counted the previous one has rolled past it.
WAVE_GAP = WINDOW + timedelta(minutes=10)

# Customers reached in the last 24 hours, read through the shop's campaigns that sent in that
# time (index on shop, campaign), never by scanning the shop's whole history.
_REACHED = text("""
    SELECT count(DISTINCT m.phone)
      FROM campaigns c
      JOIN messages m ON m.shop_id = c.shop_id AND m.campaign_id = c.id
     WHERE c.shop_id = :shop_id AND c.dispatch_started_at IS NOT NULL
       AND (c.dispatch_finished_at IS NULL OR c.dispatch_finished_at > now() - interval '24 hours')
       AND m.accepted_at > now() - interval '24 hours'
""")


@dataclass(frozen=True)
class Room:
    limit: int  # customers per rolling 24 h
    reached: int  # of them, reached by this shop's messages in the last 24 h

    @property
    def left(self) -> int:
        return max(self.limit - self.reached, 0)

    def days_for(self, audience: int) -> int:
        """How many waves, a day apart, an audience of this size needs."""
        if audience <= self.left:
            return 1
        return 1 + -(-(audience - self.left) // self.limit)


def room(session: Session, shop: Shop) -> Room | None:
    """The room Meta's limit leaves now, or None when the limit is unlimited or not known."""
    connection = connection_of(session, shop)
    if connection is None:
        return None
    limit = connection.messaging_limit
    if limit is None:
        limit = messaging_limit(connection.messaging_limit_tier)
    if limit is None or limit == UNLIMITED:
        return None
    return Room(limit, session.execute(_REACHED, {"shop_id": shop.id}).scalar_one())


def over_limit_message(space: Room, audience: int) -> str:
    return (
        f"Meta lets your business reach {space.limit:,} customers in any 24 hours, and "
        f"{space.reached:,} were messaged in the last 24 hours: {space.left:,} can be reached now, "
        f"and this campaign has {audience:,}. Launch it spread over {space.days_for(audience)} days "
        "(the rest goes out as the limit frees up), or narrow the audience. Sending past the limit "
        "would fail those messages and lower the number's quality."
    )
