"""What dispatch does when Meta refuses a send: retry later, fail the message, or halt the campaign.

Which codes halt is core/rules/meta_halts.py, the rule failed status webhooks apply too.

Meta's guidance (reference/whatsapp.md 3.4) sorts its codes in three kinds:

- transient: throughput and rate limits, temporary outages. The message is retried with
  exponential backoff, a bounded number of times. 131056 (too many messages to one recipient)
  backs off that recipient only, by Meta's 4^X seconds; the number-wide limits (130429, 4,
  80007, and the Graph API's throttling codes 17, 32, 613, 80008) also pause the whole phone
  number briefly, since every send from it would meet them.
- account or template: the payment method, a restricted or locked account, an expired token, a
  paused or disabled template. Every further message would fail the same way and each failure
  hurts the number's quality rating, so the campaign halts and the merchant is alerted. The
  header media (131053) and an invalid parameter (100) fail the message, and halt the campaign
  once they are enough of its last failures (core/dispatch/counted_halt.py).
- everything else concerns this one recipient (131026 not on WhatsApp, 131049 the per-user
  marketing limit, 131050 opted out, 130472 an experiment): the message fails and the campaign
  goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.rules.meta_halts import halts_send


class Verdict(StrEnum):
    RETRY = "retry"
    FAIL = "fail"
    HALT = "halt"


@dataclass(frozen=True)
class Retry:
    max_attempts: int
    base_s: float
    number_pause_s: float = 0.0  # a limit of the whole number (or app, or account): every send waits
    recipient_backoff: bool = False  # Meta's 4^X seconds for the pair rate limit


RETRYABLE: dict[str, Retry] = {
    # The token bucket already keeps the pace; a 130429 means a few sends arrived early
    # (network jitter), so a short breather for the number is enough.
    "130429": Retry(8, 1.0, number_pause_s=0.25),
    "4": Retry(6, 5.0, number_pause_s=5.0),
    "80007": Retry(6, 5.0, number_pause_s=5.0),
    # Graph API throttling codes that Cloud API requests can meet too: 17 (the account's or
    # user's call limit), 32 (page-level), 613 (a custom, per-endpoint limit) and 80008 (a
    # business-use-case limit, like 80007). Meta's rate-limiting page
    # (https://developers.facebook.com/docs/graph-api/overview/rate-limiting/): once a limit is
    # reached requests fail "until enough time has passed for the call count to drop below the
    # limit". A limit of the app or account, not of the message: retried, and the number waits.
    "17": Retry(6, 5.0, number_pause_s=5.0),
    "32": Retry(6, 5.0, number_pause_s=5.0),
    "613": Retry(6, 5.0, number_pause_s=5.0),
    "80008": Retry(6, 5.0, number_pause_s=5.0),
    "131056": Retry(5, 4.0, recipient_backoff=True),
    "1": Retry(3, 2.0),
    "2": Retry(5, 2.0),
    "131016": Retry(5, 5.0),
    "133004": Retry(5, 5.0),
    "131057": Retry(5, 60.0),  # maintenance mode, e.g. during a throughput upgrade (about a minute)
    "131000": Retry(3, 2.0),  # unknown error: a few tries, then give up
}


MAX_BACKOFF_S = 15 * 60.0


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    delay_s: float = 0.0
    number_pause_s: float = 0.0


def decide(code: str, attempts: int) -> Decision:
    """The decision for Meta error ``code`` after the message's ``attempts``-th send."""
    if halts_send(code):
        return Decision(Verdict.HALT)
    rule = RETRYABLE.get(code)
    if rule is None or attempts >= rule.max_attempts:
        return Decision(Verdict.FAIL)
    return Decision(Verdict.RETRY, backoff_s(rule, attempts), rule.number_pause_s)


def backoff_s(rule: Retry, attempts: int) -> float:
    exponent = max(attempts, 1)
    delay = rule.base_s**exponent if rule.recipient_backoff else rule.base_s * 2 ** (exponent - 1)
    return min(delay, MAX_BACKOFF_S)
