"""Pure rules of the product, with no I/O and no import from the rest of core: campaign
types and states, the message status ratchet, failure codes with their categories and remedies,
shop alerts and what to do about them, phone numbers, what an erasure counts as one, and which
orders count.

- ``campaign_states``: campaign types and statuses, and the rule that settles a campaign.
- ``statuses``: one rank per message status; a status only ever moves up.
- ``failure_codes``: each failure code's category, meaning and remedy, in one place.
- ``meta_halts``: which of Meta's error codes halt a campaign, and when (send answers and
  failed status webhooks alike).
- ``account_events``: what Meta's account-level webhook fields (template status and quality,
  number quality, messaging limits, account restrictions) mean for sending.
- ``alert_codes``: the app's own shop-alert codes, and for every alert what to do and where.
- ``phones``: E.164 or a precise reason why not, and a suggested fix.
- ``opt_out``: which quick-reply clicks are a customer's stop, not engagement.
- ``template_text``: what Meta refuses in a text parameter, and a customer's value made to fit.
- ``redaction``: which stored values are a customer's number, and how an erasure masks them.
- ``order_states``: which orders revenue counts, and why the others are left out.
- ``wording``: words that change with a count, by the locale's plural rule (Babel).
- ``credit_packs``: the credit packs sold through Shopify, and which purchase status pays.
"""

__all__ = [
    "account_events",
    "alert_codes",
    "campaign_states",
    "credit_packs",
    "failure_codes",
    "meta_halts",
    "opt_out",
    "order_states",
    "phones",
    "redaction",
    "statuses",
    "template_text",
    "wording",
]
