"""The statistics of a holdout's read-out: what the campaign caused, with its uncertainty.

The campaign's customers were split at random (split.py), so the treated group (everyone the
campaign meant to message, whatever Meta did with the message: intention to treat) and the
held-out group differ only by the campaign. The incremental revenue is the difference of their
mean revenue per customer, scaled to the treated group; its interval is Welch's normal
approximation (each group's own variance), which needs groups large enough for the means to be
near normal: below ``MIN_GROUP`` customers a group says "not enough data yet" instead of an
interval that would be wrong. The interval is computed once, on the window's whole data, and
the page says when the window is still open: a read-out looked at early is labelled early, not
tested again and again at a fixed level (no optional stopping).

A group is given by its sums over customers (``n``, the sum, the sum of squares), so the
database adds up a million customers and Python never sees them one by one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist

MIN_GROUP = 30
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Group:
    """A group's per-customer values as sums: how many customers, the sum of their values and
    the sum of the squares. Customers with no order count with 0."""

    n: int
    total: float
    squares: float

    @property
    def mean(self) -> float:
        return self.total / self.n

    @property
    def variance(self) -> float:
        """The sample variance (n - 1), never below 0 where rounding would take it."""
        if self.n < 2:
            return 0.0
        return max(self.squares - self.total * self.total / self.n, 0.0) / (self.n - 1)


@dataclass(frozen=True)
class Effect:
    """The campaign's effect on the treated group: the estimate and its interval."""

    amount: float
    low: float
    high: float


def incremental(treated: Group, held: Group, confidence: float = CONFIDENCE) -> Effect | None:
    """The treated group's total minus what it would have been at the held-out group's mean,
    with a ``confidence`` interval; None while either group is under MIN_GROUP customers."""
    if treated.n < MIN_GROUP or held.n < MIN_GROUP:
        return None
    per_customer = treated.mean - held.mean
    error = math.sqrt(treated.variance / treated.n + held.variance / held.n)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    scale = treated.n
    return Effect(
        per_customer * scale, (per_customer - z * error) * scale, (per_customer + z * error) * scale
    )


def money(value: float | Decimal, exponent: int = 2) -> str:
    """An amount as a decimal string with the currency's decimals (half up, as shops round);
    a Decimal stays exact, a float is taken at its shortest repr."""
    amount = value if isinstance(value, Decimal) else Decimal(repr(value))
    return str(amount.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP))
