"""A stand-in for Meta's WhatsApp Cloud API: a real HTTP server (``python -m sim.meta``).

It accepts template sends (bearer token, template and payload checked, Meta-shaped answers,
rate-limit errors above its cap), lists message templates, and posts signed status webhooks to
the app: configurable shares of delivered, read and failed (with Meta's real codes), delays,
duplicates, shuffled order, batched bodies, read without delivered, failed then delivered.
Everything it decides is deterministic under its seed and exposed as ground truth
(``GET /sim/truth``), so tests can compare every number the app shows with what "Meta" did.
"""
