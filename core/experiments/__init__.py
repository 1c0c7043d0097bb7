"""Experiments on a campaign's audience: A/B variants and a share held out at random as a
baseline, the split that assigns each customer, and the statistics of what the campaign caused.

- ``split``: the reproducible bucket of a customer in a campaign (SQL and Python alike).
- ``holdout``: who a campaign held out, and its read-out (incremental orders and revenue).
- ``stats``: the incremental effect of two groups and its interval.
- ``readout``: which A/B variant is better: the probability to be best, and when to say so.
- ``send_time``: each customer's usual reading hour, and the plan that sends them at it.
- ``test_then_send``: who is in a test share, when the rest goes, and which variant it gets.
"""

__all__ = ["holdout", "readout", "send_time", "split", "stats", "test_then_send"]
