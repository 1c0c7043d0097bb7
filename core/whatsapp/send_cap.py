"""The shop's own send rate: a merchant may send slower than Meta allows (to spread the load on
the support team answering replies, or to keep a shared number's one-to-one chats responsive).
The rate dispatch uses is Meta's cap for the number lowered by the shop's cap; a check with
Meta (core/whatsapp/connect.py ``capped``) never raises it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from core.models import Shop
from core.settings import get_settings
from core.whatsapp.connect import capped
from core.whatsapp.state import connection_of

MIN_CAP, MAX_CAP = 1, 1000


class BadCap(ValueError):
    pass


def set_send_cap(session: Session, shop: Shop, cap: object) -> int:
    """Store the shop's cap (None clears it) in the caller's transaction; the rate it sends at now."""
    if cap is not None and (
        isinstance(cap, bool) or not isinstance(cap, int) or not MIN_CAP <= cap <= MAX_CAP
    ):
        raise BadCap(
            f"Give a whole number of messages a second from {MIN_CAP} to {MAX_CAP}, or null for Meta's cap."
        )
    connection = connection_of(session, shop)
    meta_cap = connection.messages_per_second if connection else get_settings().default_messages_per_second
    shop.send_cap_per_second = cap
    shop.messages_per_second = capped(meta_cap, cap)
    return shop.messages_per_second
