"""The inbox: every signed webhook body, Meta's and Shopify's, stored as received before it is
acknowledged, and claimed from there by the drains.

- ``store``: the table's operations: claim, take, mark outcomes, record failures, retention,
  failed events and their replay.
- ``writer``: the group commit the acknowledgement path stores bodies through.
- ``health``: how long the oldest unprocessed event has waited, and the alert past five minutes.
"""

__all__ = ["health", "store", "writer"]
