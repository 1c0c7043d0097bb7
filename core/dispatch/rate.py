"""How fast a campaign is sent: the phone number's cap, and how many lanes that takes."""

from __future__ import annotations

from core.models import Shop
from core.settings import get_settings

MAX_LANES = 4


def messages_per_second(shop: Shop) -> int:
    """The number's cap: META_MESSAGES_PER_SECOND (80, Meta's default tier, unless raised), or
    the shop's own lower cap (a number in coexistence with the Business app gets 20)."""
    return max(1, min(shop.messages_per_second, get_settings().default_messages_per_second))


def lane_count(messages_per_second: int) -> int:
    """Two lanes, and one more per 250 messages a second (up to four): each lane keeps at most
    64 sends in flight, so a 1,000-a-second number needs four (on as many workers) when Meta
    answers in 250 ms."""
    return max(2, min(MAX_LANES, messages_per_second // 250))
