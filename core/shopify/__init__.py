"""Shopify: install by token exchange, expiring offline tokens, the Admin API client, webhooks
(signature, drain, compliance), the customer and order imports, consent write-back and erasure.
Met over HTTP only: the real Shopify (``https://{shop}``) or the stand-in named by
``SHOPIFY_ADMIN_URL``.

- ``install``, ``oauth``, ``tokens``: the offline token, exchanged, refreshed, encrypted at rest.
- ``admin``: the GraphQL Admin API client for one shop.
- ``signature``, ``drain``, ``privacy``: webhooks checked, applied in order, compliance requests
  (recorded by the drain, carried out step by step by the privacy job).
- ``sync``, ``bulk_import``, ``order_import``: customers and recent orders brought in.
- ``consent_writeback``: a stop given inside WhatsApp written back to Shopify.
- ``phone_fix``: the one-click fix of a number missing its calling code.
- ``queries``: every GraphQL document the app sends, in one place.
- ``billing``: credit packs bought through the Billing API, credited once Shopify says ACTIVE.

Internal: ``customers``, ``orders``, ``shapes``, ``topics``; and for the compliance requests
``erasure`` (a customer's number), ``shop_erasure`` (a shop) and ``data_export`` (a data request).
"""

__all__ = [
    "admin",
    "billing",
    "bulk_import",
    "consent_writeback",
    "drain",
    "install",
    "oauth",
    "order_import",
    "phone_fix",
    "privacy",
    "queries",
    "signature",
    "sync",
    "tokens",
]
