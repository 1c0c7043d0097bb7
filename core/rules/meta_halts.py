"""Which of Meta's error codes stop a whole campaign, and when: the one rule that both a send
answer (core/dispatch/send_policy.py) and a failed status webhook (core/meta_webhooks/) apply.

Codes are read as Meta's error-code page gives them
(https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes), sorted by
reach:

- account-wide: the account, the number or the app's access (131048 spam rate limit, 131042
  payment method, 368 restricted for a policy violation, 131031 account locked, 190 token
  expired, 0/3/10/200-299 authentication and permissions, 131045/133010 registration). No
  message from the number can go until it is fixed, and each refusal hurts its quality rating:
  one such failure halts the campaign at once.
- template-wide: the template or its parameters (132xxx, 131008 a missing parameter, 131053 the
  header media). Every message of a campaign is built from the same template and media, so a
  real refusal repeats for every message; but one stray failure (a pacing drop, a media fetch
  that failed once) must not stop thousands of good sends. A status webhook halts when at least
  ``TRIPS`` of the campaign's last ``WINDOW`` failures are template-wide (so also when all of
  its first three are). A send answer, synchronous and about this very request, halts at once.
- everything else concerns one recipient (131026 not on WhatsApp, 131049 the per-user marketing
  limit, 131050 opted out, 130472 an experiment...) or is transient: it never halts.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class Scope(StrEnum):
    ACCOUNT = "account"
    TEMPLATE = "template"
    RECIPIENT = "recipient"


ACCOUNT_WIDE = frozenset(
    {
        "0",  # unable to authenticate the app
        "3",  # the app lacks a capability
        "10",  # permission denied
        "190",  # access token expired
        "131048",  # spam rate limit: too many blocks or reports
        "131042",  # payment method
        "368",  # account restricted for a policy violation
        "131031",  # account locked
        "131045",  # phone number registration error
        "133010",  # phone number not registered on WhatsApp
    }
)
PERMISSION_CODES = range(200, 300)  # Graph API permission errors: the app's access, like 10

TEMPLATE_WIDE = frozenset(
    {
        "132000",  # parameter count does not match the template
        "132001",  # template missing in this language or not approved
        "132005",  # translated text too long
        "132007",  # template content breaks policy
        "132012",  # parameter format does not match the template
        "132015",  # template paused for low quality
        "132016",  # template disabled
        "131008",  # a parameter the template requires is missing
    }
)
# The header media could not be fetched: the same media for every message, but also a code a
# single failed download gives, so it halts only by count, never on one send answer.
MEDIA = "131053"

WINDOW = 10  # a status webhook looks at the campaign's last WINDOW failures...
TRIPS = 3  # ...and halts when at least TRIPS of them are template-wide


def scope(code: str) -> Scope:
    """How far the refusal ``code`` reaches: the account, the template, or one recipient."""
    if code in ACCOUNT_WIDE or (code.isdigit() and int(code) in PERMISSION_CODES):
        return Scope.ACCOUNT
    if code in TEMPLATE_WIDE or code == MEDIA:
        return Scope.TEMPLATE
    return Scope.RECIPIENT


def halts_send(code: str) -> bool:
    """A send answer with ``code`` halts the campaign at once."""
    return scope(code) == Scope.ACCOUNT or code in TEMPLATE_WIDE


def halting_code(failures: Sequence[str]) -> str | None:
    """The code that halts a campaign whose failure codes, oldest first, are ``failures``, or
    None: the newest account-wide code among the last ``WINDOW``, else the newest template-wide
    one when at least ``TRIPS`` of the last ``WINDOW`` are template-wide."""
    last = list(failures)[-WINDOW:]
    scopes = [scope(code) for code in last]
    for code, reach in zip(reversed(last), reversed(scopes), strict=True):
        if reach == Scope.ACCOUNT:
            return code
    if scopes.count(Scope.TEMPLATE) >= TRIPS:
        return next(
            code
            for code, reach in zip(reversed(last), reversed(scopes), strict=True)
            if reach == Scope.TEMPLATE
        )
    return None
