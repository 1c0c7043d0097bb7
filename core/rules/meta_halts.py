"""Which of Meta's error codes stop a whole campaign, and when: the one rule that both a send
answer (core/dispatch/send_policy.py, core/dispatch/counted_halt.py) and a failed status webhook
(core/meta_webhooks/) apply.

Codes are read as Meta's error-code page gives them
(https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes,
recorded in the team's reference notes, reference/whatsapp.md 3.4), sorted by reach:

- account-wide: the account, the number or the app's access (131048 spam rate limit, 131042
  payment method, 368 restricted for a policy violation, 131031 account locked, 190 token
  expired, 0/3/10/200-299 authentication and permissions, 131045/133010 registration, 33 the
  number deleted, 131037 a display name not approved, 131063 marketing templates turned off on
  Cloud API, 131064 the limit set for template-classification violations). No message from the
  number can go until it is fixed, and each refusal hurts its quality rating: one such failure
  halts the campaign at once.
- template-wide: the template or its parameters (132xxx, 131008 a missing parameter). Every
  message of a campaign is built from the same template, so a real refusal repeats for every
  message. A send answer, synchronous and about this very request, halts at once; a status
  webhook halts when at least ``TRIPS`` of the campaign's last ``WINDOW`` failures are
  template-wide (so also when all of its first three are), so one stray cannot stop thousands
  of good sends.
- counted template-wide (``COUNTED``): 131053 the header media, 100 an invalid parameter. Both
  usually repeat for every message, but both can also hit one message alone (a media fetch that
  failed once; one recipient's value), so they halt by the same count on either path, never on
  one failure.
- everything else concerns one recipient (131026 not on WhatsApp, 131049 the per-user marketing
  limit, 131050 opted out, 130472 an experiment, 131052 media a customer sent us...) or is
  transient: it never halts.
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
        # Meta's error-code page, "Other errors": "Parameter value is not valid: the business
        # phone number has been deleted" (reference/whatsapp.md 3.4). Nothing sends from it.
        "33",
        # Meta: a number from Meta's 555 range "needs display name approval before message can
        # be sent" (reference/whatsapp.md 3.4): every send from the number is refused until then.
        "131037",
        # Meta: marketing templates are turned off on Cloud API for this account
        # (disable_marketing_messages_on_cloud_api; reference/whatsapp.md 3.4): every marketing
        # send of the account is refused until the setting changes.
        "131063",
        # Meta: the account's messaging limit was cut for template-classification violations and
        # lifts only after the enforcement period (reference/whatsapp.md 3.4): every further
        # send fails the same way.
        "131064",
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
# Template-wide codes that halt only by count, on a send answer as on a status webhook.
COUNTED = frozenset(
    {
        # Meta: "Media upload error: unable to upload the media used in the message" (error-code
        # page; reference/whatsapp.md 3.4). The header media is the same for every message, but
        # Meta's fetch of a link also fails once in a while (its own fetcher rate-limited), so one
        # such failure must not halt.
        "131053",
        # Meta: "Invalid parameter: the request included one or more unsupported or misspelled
        # parameters" (error-code page; reference/whatsapp.md 3.4 lists it with the template and
        # request errors that halt). Our request is the same for every message but for each
        # recipient's values, which core/templates/render.py cleans; a stray 100 may still be
        # one recipient's.
        "100",
    }
)

WINDOW = 10  # a status webhook looks at the campaign's last WINDOW failures...
TRIPS = 3  # ...and halts when at least TRIPS of them are template-wide


def scope(code: str) -> Scope:
    """How far the refusal ``code`` reaches: the account, the template, or one recipient."""
    if code in ACCOUNT_WIDE or (code.isdigit() and int(code) in PERMISSION_CODES):
        return Scope.ACCOUNT
    if code in TEMPLATE_WIDE or code in COUNTED:
        return Scope.TEMPLATE
    return Scope.RECIPIENT


def halts_send(code: str) -> bool:
    """A send answer with ``code`` halts the campaign at once."""
    return scope(code) == Scope.ACCOUNT or code in TEMPLATE_WIDE


def counted(code: str) -> bool:
    """A send answer with ``code`` halts only when the campaign's last failures trip
    ``halting_code`` (core/dispatch/counted_halt.py)."""
    return code in COUNTED


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
