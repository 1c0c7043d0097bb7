"""A stand-in for the Shopify Admin API: a real HTTP server (``python -m sim.shopify``).

It does what the app needs from Shopify, the way Shopify does it: token exchange of a session
token for an expiring offline token and its refresh (rotating refresh tokens), the GraphQL
Admin API's ``customers`` connection, ``customer``, ``shop`` and ``customerUpdate`` (with
userErrors), cost-based throttling with a leaky bucket, and signed webhooks to the app. Its
customers are generated deterministically from the seed and the shop's domain, or read from a
seed document (``make run`` uses the demo's). Tests steer it through ``/sim/...``.
"""
