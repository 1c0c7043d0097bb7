"""Local stand-ins for Meta's Graph API and Shopify's Admin API, and the demo data.

Nothing in the product imports this package: the stand-ins are met over HTTP, like the real
services.
"""
