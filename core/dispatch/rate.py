"""How fast a campaign is sent: the phone number's cap, and how many lanes share it."""

from __future__ import annotations

from core.models import Shop
from core.settings import get_settings

# One lane's event loop keeps a 1,000-a-second number busy on under half a core (the sends
# in flight cost a socket each, not a thread), so a second lane is not there for speed:
# it spreads that CPU over two workers, and keeps the campaign sending when one worker dies.
LANES = 2


def messages_per_second(shop: Shop) -> int:
    """The number's cap: META_MESSAGES_PER_SECOND (80, Meta's default tier, unless raised), or
    the shop's own lower cap (a number in coexistence with the Business app gets 20)."""
    return max(1, min(shop.messages_per_second, get_settings().default_messages_per_second))
