"""Which Shopify orders a campaign's revenue counts, and the name of every order it leaves out.

Decided from the meanings Shopify gives its financial statuses (``OrderDisplayFinancialStatus``
in the published 2026-10 Admin schema, the same values the webhooks send in lower case as
``financial_status``):

- counted, because money was taken: ``paid`` (captured or marked as paid), ``partially_paid``
  (a payment captured for less than the order's value), ``partially_refunded`` and ``refunded``
  (it was paid; what went back is subtracted as refunds, so a full refund nets to nothing);
- left out as ``unpaid``, because no money was taken yet or ever: ``pending`` (the provider
  needs time, or a manual method such as cash on delivery), ``authorized`` (validated, not
  captured), ``expired`` (not captured in time), and a status Shopify did not give. Such an
  order counts once ``orders/updated`` says it is paid;
- left out as ``voided``: the authorization was voided, the money released.

Whatever the payment says, a test order (``test``: made with the Bogus Gateway or a provider in
test mode; it can never become a real order) and a cancelled order count for nobody.
"""

from __future__ import annotations

COUNTED_FINANCIAL_STATUSES = ("paid", "partially_paid", "partially_refunded", "refunded")
VOIDED = "voided"
UNKNOWN = "unknown"  # the status Shopify did not give: not counted

# Why an order is left out, in the order the reasons are checked (the first that holds wins).
LEFT_OUT_REASONS = ("test", "cancelled", "voided", "unpaid")


def financial_status(value: object) -> str:
    """Shopify's financial status in one spelling (webhooks ``partially_paid``, GraphQL
    ``PARTIALLY_PAID``); ``unknown`` when it did not say."""
    return value.strip().lower() if isinstance(value, str) and value.strip() else UNKNOWN
