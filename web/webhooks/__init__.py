"""Both webhook endpoints and what they share: a signed body is stored in the inbox before it is
acknowledged, and nothing else happens on the way in.

- ``route``: ``POST /webhooks/meta``, a thin WSGI route ahead of Flask.
- ``meta``: ``GET /webhooks/meta``, Meta's verification handshake.
- ``shopify``: ``POST /webhooks/shopify``, every Shopify topic.
- ``bodies``: reading a raw body within its limit, storing it and answering.
"""

__all__ = ["bodies", "meta", "route", "shopify"]
