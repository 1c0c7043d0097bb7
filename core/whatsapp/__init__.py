"""A shop's WhatsApp Business connection and the Graph API calls made for it: connect, check
again, describe, release, and send template messages.

- ``callback``: our signed ``biz_opaque_callback_data``: made at send, read from a status.
- ``connect``: check everything with Meta first, then store the connection.
- ``graph``: the Graph API calls that connect a number (read, list, subscribe, exchange a code).
- ``graph_api``: endpoint addresses, the account's template list, reading a Graph answer.
- ``pricing_analytics``: what Meta billed the account, per day, country, category and tier.
- ``registration``: a number not yet on the Cloud API registered with a new PIN; refusals in words.
- ``recheck``: the periodic check of a connected number (quality, limits, throughput).
- ``release``: a disconnected (or uninstalled) shop's number released, our app unsubscribed
  from its WABA, then the token forgotten.
- ``send``: sending template messages at the number's cap.
- ``send_cap``: the shop's own lower send rate, which no check with Meta raises.
- ``signup``: the single-use state that binds an Embedded Signup code to its shop.
- ``state``: the connection as the API and the Settings page show it.
"""

__all__ = [
    "callback",
    "connect",
    "graph",
    "graph_api",
    "pricing_analytics",
    "recheck",
    "release",
    "send",
    "send_cap",
    "signup",
    "state",
]
