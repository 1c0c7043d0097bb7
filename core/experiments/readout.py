"""Which variant of an A/B campaign is better on the merchant's metric, and how sure we are.

Method: the Bayesian probability that each variant is the best. A rate (read rate, click rate)
is a count of successes out of trials: each variant's rate has a Beta(1 + successes, 1 + failures)
posterior (a uniform prior). A per-recipient amount (orders, revenue per recipient) has a normal
posterior around its mean with the mean's own variance (the groups are hundreds of recipients or
more before anything is said, so the mean is near normal). The probability to be best is the
share of joint draws from the posteriors in which the variant comes first; the draws are
seeded by the campaign, so the page says the same thing on every load.

Peeking: a probability looked at while data still arrives and acted on as soon as it crosses a
line declares false winners far more often than its level says. So a winner is only declared
at the experiment's horizon (the campaign settled, and for orders and revenue its attribution
window closed), when every variant has at least MIN_TRIALS, and when its probability reaches
1 - 0.05 / (number of variants): with no true difference, a winner is then declared in about 5%
of experiments or fewer, whatever the number of variants (tests/test_experiments.py simulates it).
Before the horizon the probabilities are shown, marked provisional.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

MIN_TRIALS = 100
DRAWS = 20_000
FALSE_WINNER_RATE = 0.05

RATE_METRICS = {"read_rate", "click_rate"}
METHOD = {
    "rate": "Bayesian probability to be best: Beta(1 + successes, 1 + failures) for each variant's rate",
    "mean": "Bayesian probability to be best: a normal posterior around each variant's mean per recipient",
}


@dataclass(frozen=True)
class Arm:
    """One variant's data: a rate as ``total`` successes of ``trials``; an amount per recipient
    as ``trials`` recipients with ``total`` and ``squares`` summed over them."""

    id: int
    trials: int
    total: float = 0.0
    squares: float = 0.0


def probability_to_be_best(arms: list[Arm], kind: str, seed: int, draws: int = DRAWS) -> dict[int, float]:
    """Each arm's probability of being the best (highest) on its posterior, by seeded draws.
    Each posterior's parameters are worked out once, not per draw: the draws (in arm order,
    the first highest winning a tie) are the same, at a fraction of the time a page waits."""
    rng = random.Random(seed)
    draw, parameters = (rng.betavariate, _beta) if kind == "rate" else (rng.gauss, _normal)
    posteriors = [parameters(arm) for arm in arms]
    wins = [0] * len(arms)
    for _ in range(draws):
        best, top = 0, None
        for i, (a, b) in enumerate(posteriors):
            value = draw(a, b)
            if top is None or value > top:
                best, top = i, value
        wins[best] += 1
    return {arm.id: round(count / draws, 4) for arm, count in zip(arms, wins, strict=True)}


def _beta(arm: Arm) -> tuple[float, float]:
    """Beta(1 + successes, 1 + failures): the rate's posterior under a uniform prior."""
    return 1 + arm.total, 1 + arm.trials - arm.total


def _normal(arm: Arm) -> tuple[float, float]:
    """The mean per recipient and the standard deviation of that mean."""
    mean = arm.total / arm.trials
    variance = max(arm.squares - arm.total * mean, 0.0) / max(arm.trials - 1, 1)
    return mean, math.sqrt(variance / arm.trials)


def winning_line(variants: int) -> float:
    """The probability a variant needs to be declared the winner at the horizon."""
    return 1 - FALSE_WINNER_RATE / variants


def readout(arms: list[Arm], metric: str, *, at_horizon: bool, seed: int, draws: int = DRAWS) -> dict:
    """The contract's ``experiment``: the metric, each variant's probability to be best, the
    winner (None until it is certain enough at the horizon), the method, and why there is no
    winner when there is none."""
    kind = "rate" if metric in RATE_METRICS else "mean"
    answer = {"metric": metric, "method": METHOD[kind], "winner": None, "probability": None}
    answer["provisional"] = True
    short = [arm.id for arm in arms if arm.trials < MIN_TRIALS]
    if short:
        return answer | {"status": "not_enough_data", "min_trials": MIN_TRIALS}
    chances = probability_to_be_best(arms, kind, seed, draws)
    leader = max(chances, key=chances.get)
    answer |= {"probabilities": chances, "probability": chances[leader], "provisional": not at_horizon}
    if not at_horizon:
        return answer | {"status": "provisional"}
    if chances[leader] < winning_line(len(arms)):
        return answer | {"status": "no_clear_winner", "line": round(winning_line(len(arms)), 4)}
    return answer | {"status": "winner", "winner": leader, "line": round(winning_line(len(arms)), 4)}
