"""Meta's WhatsApp webhooks: signature, parsing, and the set-based apply path the drain runs.

- ``signature``: the ``X-Hub-Signature-256`` check over the raw body.
- ``drain``: one batch claimed from the inbox, parsed, routed and applied in one transaction.
- ``apply``: the apply path; ``release_parked`` is what dispatch calls, in its own transaction,
  right after recording the wamids of a send.
- ``halt``: a campaign stops with the code that stopped it, and says why (dispatch halts on a
  send answer, the drain on failed statuses, core/rules/meta_halts.py).
- ``parked``: statuses for wamids not recorded yet, kept until they are.
- ``preferences``: marketing consent given or withdrawn inside WhatsApp.
- ``routing``: the shop a business phone number id routes to (also what an erasure counts as
  the shop's Meta bodies).
"""

__all__ = ["apply", "drain", "halt", "parked", "preferences", "routing", "signature"]
