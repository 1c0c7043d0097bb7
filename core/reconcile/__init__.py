"""Our cost reconciled with what Meta billed: Meta's ``pricing_analytics`` read daily per
connected WhatsApp Business Account, kept per day, country, category, pricing type and tier,
and compared with our own billed messages and cost.

- ``drift``: ours beside Meta's per day, country and category; the drift alert.
- ``meta_rows``: Meta's billed rows as kept; a read of days replaces those days.
- ``ours``: our billed messages and cost per UTC day, country and category.
- ``read``: read Meta, keep what it said, check the drift; an alert when Meta refuses.
"""

__all__ = ["drift", "read"]
