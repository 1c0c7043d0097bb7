"""Read models for what a merchant sees: a campaign's report, its metrics and signals, the message
list, what campaigns earned, the shop's trends and one customer's WhatsApp history.

- ``campaign``: counters, failure breakdowns and signals of one campaign.
- ``metrics``: the four core metrics, their rates and the diagnostic signals.
- ``message_list``: per-message rows, filters and keyset pages.
- ``outcomes``: orders, revenue, cost and the ratios between them.
- ``trends``: rates over time by send date and type.
- ``customer``: the customer-page block's data.
"""

__all__ = ["campaign", "customer", "message_list", "metrics", "outcomes", "trends"]
