"""What Meta refuses in a template's text parameter, and how a customer's value is made to fit.

Meta refuses a text parameter that holds a newline or a tab, or more than four consecutive
spaces (the send answer's details: "Param text cannot have new-line/tab characters or more
than 4 consecutive spaces", under code 132018 or 100), and one longer than the part it fills
(1,024 characters in the body, 60 in a text header: Meta's OpenAPI description and template
limits, core/campaigns/input_limits.py). Meta's error-code page lists 100 as "Invalid parameter",
and every message of a campaign carries the same texts, so a text the merchant typed is refused
when the draft is saved and again at launch, naming the parameter.

A customer's own value (their first name) is the customer's: it is cleaned per recipient
instead (``fit``), so one odd name stored in Shopify does not fail its message at Meta.
"""

from __future__ import annotations

import re

MAX_SPACES = 4  # Meta: no more than 4 consecutive spaces

_BREAKS = re.compile(r"[\n\r\t\v\f\u2028\u2029\x85]")
_TOO_MANY_SPACES = re.compile(" {" + str(MAX_SPACES + 1) + ",}")
_WHITESPACE = re.compile(r"\s+")


def refusal(text: str, limit: int) -> str | None:
    """Why Meta would refuse ``text`` as a parameter of at most ``limit`` characters, or None."""
    if _BREAKS.search(text):
        return "must not hold line breaks or tabs (WhatsApp refuses them in a parameter)"
    if _TOO_MANY_SPACES.search(text):
        return f"must not hold more than {MAX_SPACES} spaces in a row (WhatsApp refuses them)"
    if len(text) > limit:
        return f"text is longer than WhatsApp's {limit} characters"
    return None


def fit(value: str, limit: int) -> str:
    """A customer's value as a parameter Meta takes: every run of whitespace (line breaks and
    tabs included) one space, trimmed, cut to ``limit`` characters. Empty when nothing is left."""
    return _WHITESPACE.sub(" ", value).strip()[:limit].rstrip()
