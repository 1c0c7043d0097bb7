"""Shopify: install by token exchange, expiring offline tokens, the Admin API client, webhooks
(signature, drain, compliance) and the customer sync. Met over HTTP only: the real Shopify
(``https://{shop}``) or the stand-in named by ``SHOPIFY_ADMIN_URL``."""
