"""What is kept beside a campaign's counters so pages read a few rows whatever the campaign's
size, and the recount that rebuilds all of it from the messages.

- ``failures``: the failure breakdown per code.
- ``billed``: billed messages per calling code and pricing category.
- ``timings``: time to deliver and to read, bucketed.
- ``variants``: an A/B campaign's funnel per variant.
- ``recount``: counters and kept rows recomputed from the messages (the reconciliation path).

``kept_rows`` is internal: what the kept tables share; ``funnel`` the counters' definition.
"""

__all__ = ["billed", "failures", "funnel", "recount", "timings", "variants"]
