"""What a campaign earns and costs: attribution of orders, Meta's rate card, the shop's credits,
and the outcome settings a merchant chooses.

- ``attribution``: which campaign an order counts for (last touch inside the window).
- ``rate_card``: Meta's per-message rates (``data/``) and a shop's override.
- ``credits``: one credit per message, reserved at send, kept only for what Meta bills.
- ``ledger``: the balance, what campaigns still sending hold, and each movement's campaign or purchase.
- ``purchases``: credit packs bought through Shopify, each granted once when it is ACTIVE.
- ``settings``: the attribution window and the rate override.
"""

__all__ = ["attribution", "credits", "ledger", "purchases", "rate_card", "settings"]
