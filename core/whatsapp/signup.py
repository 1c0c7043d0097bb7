"""The ``state`` that binds an Embedded Signup code to the shop that started the signup.

Meta's Embedded Signup hands the code to the page that opened it (FB.login's callback), and the
JavaScript SDK carries no state of ours through Meta. So our server issues one to the shop's
session when the merchant starts the signup, the page keeps it while Meta's popup is open, and
the code is exchanged only when it arrives with that state: issued to this shop, within
``STATE_TTL_S``, and never used before (it is taken out of Redis in the same step that reads it).
A code posted without a signup this session started is refused before Meta is asked.
"""

from __future__ import annotations

import hashlib
import secrets

from core.redis import get_redis

STATE_TTL_S = 600  # ten minutes: the popup's steps take a few
_KEY = "whatsapp:signup-state:"


def _key(state: str) -> str:
    # Only a digest is kept: Redis never holds a state that could be replayed.
    return _KEY + hashlib.sha256(state.encode()).hexdigest()


def issue_state(shop_id: int) -> str:
    """A new single-use state for one Embedded Signup of this shop."""
    state = secrets.token_urlsafe(32)
    get_redis().set(_key(state), str(shop_id), ex=STATE_TTL_S)
    return state


def take_state(shop_id: int, state: str) -> bool:
    """Whether ``state`` was issued to this shop and is still unused and fresh; it is spent
    either way."""
    issued_to = get_redis().getdel(_key(state))
    return issued_to is not None and issued_to.decode() == str(shop_id)
