"""Read models for what a merchant sees: a campaign's report, its metrics and signals, the message
list, what campaigns earned, the shop's trends, one customer's WhatsApp history and the shop's
open alerts.

- ``campaign``: counters, failure breakdowns and signals of one campaign.
- ``metrics``: the four core metrics, their rates and the diagnostic signals.
- ``message_list``: per-message rows, filters and keyset pages.
- ``outcomes``: orders, revenue, cost and the ratios between them.
- ``meta_billing``: our cost beside what Meta billed, day by day, and the drift.
- ``trends``: rates over time by send date and type.
- ``customer``: the customer-page block's data.
- ``status``: what a campaign's status says: badge, sentence, pending reports, the next action.
- ``alerts``: the shop's open alerts, one per code and campaign, with what to do; dismissal.
- ``variants``: an A/B campaign's variants side by side, and which is better.
"""

__all__ = [
    "alerts",
    "campaign",
    "customer",
    "message_list",
    "meta_billing",
    "metrics",
    "outcomes",
    "status",
    "trends",
    "variants",
]
