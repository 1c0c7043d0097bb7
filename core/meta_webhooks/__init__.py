"""Meta's WhatsApp webhooks: signature, parsing, and the set-based apply path the drain runs.

``release_parked(session, shop_id, wamids)`` is what the campaign engine calls, in the same
transaction, right after recording the wamids of a send.
"""

from core.meta_webhooks.apply import release_parked

__all__ = ["release_parked"]
