"""Experiments on a campaign's audience: a share held out at random as a baseline, and what the
campaign caused beyond it.

- ``split``: the reproducible bucket of a customer in a campaign (SQL and Python alike).
- ``holdout``: who a campaign held out, and its read-out (incremental orders and revenue).
- ``stats``: the incremental effect of two groups and its interval.
"""

__all__ = ["holdout", "split", "stats"]
