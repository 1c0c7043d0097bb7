"""Marketing consent that customers give or withdraw inside WhatsApp.

``user_preferences`` webhooks: ``stop`` unsubscribes the customer; ``resume`` brings back one
who had stopped. A message failing with 131050 ("the user stopped marketing messages from this
business") is the same ``stop``, learned from a send. A stop is the number's: it reaches every
customer record of the shop with that number (a customer created twice, a shared phone), each
marked to be written back to Shopify. The latest change wins by Meta's timestamp (kept in
``consent_updated_at``; at the same second a stop wins, the safe side of consent), so a late
``stop`` cannot undo a newer ``resume`` nor the other way round.

Consent keeps where it came from (``consent_source``, core/rules/campaign_states.py): a stop
sets ``whatsapp_stop``, a resume that brings a customer back ``whatsapp_resume``. A resume never
re-subscribes a customer whose unsubscribe came from Shopify (the merchant's record, or the
customer's choice made there): such a customer is left as they are. ``signup`` (a signup link)
is not a consent we record here. A redacted customer is never touched.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.meta_webhooks.parse import PreferenceChange
from core.rules.campaign_states import Consent, ConsentSource

CHANGES = ("stop", "resume")

_STOPPED, _SHOPIFY = ConsentSource.WHATSAPP_STOP, ConsentSource.SHOPIFY

# The latest change wins by Meta's time; at the same second a stop wins. Shared by both keys.
# A resume brings back only a customer unsubscribed by something other than Shopify.
_SET_CONSENT = f"""
       SET consent = CASE WHEN p.value = 'stop' THEN '{Consent.UNSUBSCRIBED}'
                          WHEN c.consent = '{Consent.UNSUBSCRIBED}' THEN '{Consent.SUBSCRIBED}'
                          ELSE c.consent END,
           consent_source = CASE WHEN p.value = 'stop' THEN '{_STOPPED}'
                                 WHEN c.consent = '{Consent.UNSUBSCRIBED}'
                                      THEN '{ConsentSource.WHATSAPP_RESUME}'
                                 ELSE c.consent_source END,
           consent_updated_at = p.at,
           -- a stop is written back to Shopify (core/shopify/consent_writeback.py); a resume
           -- cancels a stop not written yet, and what Shopify said when it refused it
           consent_writeback_at = CASE WHEN p.value = 'stop' THEN p.at END,
           consent_writeback_refused = CASE WHEN p.value = 'stop' THEN c.consent_writeback_refused END,
           consent_writeback_retry_at = CASE WHEN p.value = 'stop' THEN c.consent_writeback_retry_at END
"""
_NEWER = f"""
       AND c.consent <> '{Consent.REDACTED}'
       AND (c.consent_updated_at IS NULL OR c.consent_updated_at < p.at
            OR (c.consent_updated_at = p.at AND p.value = 'stop'))
       AND NOT (p.value = 'resume' AND c.consent = '{Consent.UNSUBSCRIBED}'
                AND c.consent_source IS NOT DISTINCT FROM '{_SHOPIFY}')
"""

_APPLY = text(
    f"""
    UPDATE customers c {_SET_CONSENT}
      FROM unnest(CAST(:shop_ids AS bigint[]), CAST(:keys AS text[]), CAST(:values AS text[]),
                  CAST(:ats AS timestamptz[])) AS p(shop_id, phone, value, at)
     WHERE c.shop_id = :shop_id AND c.shop_id = p.shop_id AND c.phone_e164 = p.phone {_NEWER}
    """
)

# A username user's preference may come without the phone number, by business-scoped user id
# only (reference/whatsapp.md 1.4): the customer is the one our messages to that user id
# reached, as their statuses' recipient_user_id told us, and every customer with the number
# those messages went to.
_APPLY_BY_USER_ID = text(
    f"""
    UPDATE customers c {_SET_CONSENT}
      FROM (SELECT DISTINCT p.*, m.customer_id, m.phone AS sent_to
              FROM unnest(CAST(:shop_ids AS bigint[]), CAST(:keys AS text[]), CAST(:values AS text[]),
                          CAST(:ats AS timestamptz[])) AS p(shop_id, user_id, value, at)
              JOIN messages m ON m.shop_id = p.shop_id AND m.recipient_user_id = p.user_id
             WHERE m.shop_id = :shop_id AND m.customer_id IS NOT NULL) AS p
     WHERE c.shop_id = :shop_id AND c.shop_id = p.shop_id
       AND (c.id = p.customer_id OR c.phone_e164 = p.sent_to) {_NEWER}
    """
)

# What a 131050 stop sets: the customer unsubscribed at the failure's time, inside WhatsApp.
_SET_STOPPED = f"""
       SET consent = '{Consent.UNSUBSCRIBED}', consent_source = '{_STOPPED}',
           consent_updated_at = o.at, consent_writeback_at = o.at
"""

_STOPPED_BY_FAILURE = text(
    f"""
    UPDATE customers c {_SET_STOPPED}
      FROM (SELECT o.at, m.customer_id, m.phone
              FROM unnest(CAST(:wamids AS text[]), CAST(:ats AS timestamptz[])) AS o(wamid, at)
              JOIN messages m ON m.shop_id = :shop_id AND m.wamid = o.wamid) AS o
     WHERE c.shop_id = :shop_id AND (c.id = o.customer_id OR c.phone_e164 = o.phone)
       AND c.consent <> '{Consent.REDACTED}'
       AND (c.consent_updated_at IS NULL OR c.consent_updated_at <= o.at)
    """
)


_STOPPED_AT_SEND = text(
    f"""
    UPDATE customers c {_SET_STOPPED}
      FROM (SELECT CAST(:at AS timestamptz) AS at, m.shop_id, m.customer_id, m.phone
              FROM messages m
             WHERE m.shop_id = :shop_id AND m.id = ANY(CAST(:ids AS bigint[]))) AS o
     WHERE c.shop_id = o.shop_id AND (c.id = o.customer_id OR c.phone_e164 = o.phone)
       AND c.consent <> '{Consent.REDACTED}'
       AND (c.consent_updated_at IS NULL OR c.consent_updated_at <= o.at)
    """
)


def unsubscribe_refused(session: Session, shop_id: int, message_ids: list[int], at: datetime) -> int:
    """Unsubscribe the customers of messages Meta refused at send time with 131050 (and every
    customer of the shop with the number), as the webhook path does for a failed status, and
    mark the stop for writing back to Shopify (core/shopify/consent_writeback.py). Return how
    many customers changed."""
    if not message_ids:
        return 0
    return session.execute(_STOPPED_AT_SEND, {"shop_id": shop_id, "ids": message_ids, "at": at}).rowcount


def unsubscribe_recipients(session: Session, shop_id: int, stops: dict[str, datetime]) -> int:
    """Unsubscribe the customers of the shop's messages that failed with 131050 (or whose
    opt-out button was tapped, clicks.py), and every customer of the shop with the number they
    went to: their wamid to the failure's (or tap's) time. Return how many customer rows
    changed."""
    if not stops:
        return 0
    wamids = sorted(stops)
    params = {"shop_id": shop_id, "wamids": wamids, "ats": [stops[w] for w in wamids]}
    return session.execute(_STOPPED_BY_FAILURE, params).rowcount


def apply_preferences(session: Session, shop_id: int, changes: list[tuple[int, PreferenceChange]]) -> int:
    """Apply the changes (all of ``shop_id``), the latest per customer; return how many
    customer rows changed."""
    latest: dict[tuple[int, str, str], PreferenceChange] = {}
    for shop_id, change in changes:
        if change.value not in CHANGES:
            continue
        # By phone when Meta gives it; by business-scoped user id otherwise.
        key = (shop_id, "phone", "+" + change.wa_id) if change.wa_id else (shop_id, "user", change.user_id)
        if key not in latest or (change.at, change.value == "stop") > (
            latest[key].at,
            latest[key].value == "stop",
        ):
            latest[key] = change
    changed = 0
    for kind, statement in (("phone", _APPLY), ("user", _APPLY_BY_USER_ID)):
        keys = sorted(k for k in latest if k[1] == kind)
        if keys:
            params = {
                "shop_id": shop_id,
                "shop_ids": [k[0] for k in keys],
                "keys": [k[2] for k in keys],
                "values": [latest[k].value for k in keys],
                "ats": [latest[k].at for k in keys],
            }
            changed += session.execute(statement, params).rowcount
    return changed
