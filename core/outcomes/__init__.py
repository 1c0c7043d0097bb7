"""What a campaign earns and costs: attribution of orders, Meta's rate card, the shop's credits,
and the outcome settings a merchant chooses.

- ``attribution``: which campaign an order counts for (last touch inside the window).
- ``rate_card``: Meta's per-message rates (``data/rates/``, one card per effective date and
  currency) and a shop's override.
- ``pricing``: which card prices a message (the override, or the card in force the day it was
  sent in the account's currency) and the pricing, volume tiers included.
- ``billed_days``: a shop's billed messages and cost per day, country and category.
- ``credits``: one credit per message, reserved at send, kept only for what Meta bills.
- ``ledger``: the balance, what campaigns still sending hold, and each movement's campaign or purchase.
- ``purchases``: credit packs bought through Shopify, each granted once when it is ACTIVE.
- ``settings``: the attribution window and the rate override.
"""

__all__ = ["attribution", "billed_days", "credits", "ledger", "pricing", "purchases", "rate_card", "settings"]
