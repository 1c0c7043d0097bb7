"""Which quick-reply clicks are a customer's "stop", not engagement.

Meta lets a marketing template carry a marketing opt-out button, a quick reply whose text
Meta suggests as "Stop promotions"; the business must honour the tap as an opt-out (Meta's
template guidelines). The tap reaches us as an ordinary button reply to our message, with the
button's text and payload (the payload the campaign gave the button, or Meta's default, the
text itself). Counting it as a click would report the customer's "no" as interest, and keep
messaging someone who asked us to stop; so a reply whose text or payload says stop is a stop,
applied like a ``user_preferences`` stop (core/meta_webhooks/clicks.py).

Matched after lower-casing and folding punctuation and spaces, so "Stop Promotions!",
"STOP_PROMOTIONS" and "stop-promotions" are one. Only whole phrases count: a button "Stop by
our store" is not a stop. A campaign whose opt-out button says something else can give it a
payload that does (``STOP_PROMOTIONS``).
"""

from __future__ import annotations

import re

OPT_OUT_PHRASES = frozenset(
    {
        "stop promotions",  # Meta's suggested text for the marketing opt-out button
        "stop promotion",
        "stop",
        "stop marketing",
        "stop messages",
        "stop offers",
        "unsubscribe",
        "opt out",
        "optout",
        "no more promotions",
        "no more offers",
        "no more messages",
        # Common translations of "Stop promotions" (our phrasings, not a list Meta publishes;
        # a wrong match only unsubscribes, the safe side of consent).
        "detener promociones",
        "parar promociones",
        "parar promoções",
        "arrêter les promotions",
        "werbung stoppen",
        "interrompi promozioni",
        "stop promoties",
    }
)

_FOLD = re.compile(r"[\W_]+")


def is_opt_out(text: str | None, payload: str | None) -> bool:
    """Whether a button reply with this ``text`` and ``payload`` asks to stop marketing."""
    return any(_fold(value) in OPT_OUT_PHRASES for value in (text, payload) if value)


def _fold(value: str) -> str:
    return _FOLD.sub(" ", value.lower()).strip()
