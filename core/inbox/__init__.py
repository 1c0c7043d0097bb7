"""The inbox: every signed webhook body, Meta's and Shopify's, stored as received before it is
acknowledged, and claimed from there by the drains.

- ``store``: the table's operations: claim, mark outcomes, record failures, retention.
- ``writer``: the group commit the acknowledgement path stores bodies through.
"""

__all__ = ["store", "writer"]
