"""Two-way consent: a stop the customer gave inside WhatsApp (Meta's ``user_preferences`` stop,
or a message failing with 131050) is written back to Shopify with
``customerWhatsAppMarketingConsentUpdate``, so Shopify, the source of consent for every app
the merchant uses, stays true.

The stop is recorded with the local unsubscribe, in the same transaction
(``consent_writeback_at`` = when the customer stopped): nothing is lost if Shopify is down or
Redis is; a periodic job (jobs/customer_import.py) writes what is pending. A later resume inside
WhatsApp, or a newer consent from Shopify, cancels a stop not yet written. Writing the same stop
twice changes nothing.

A stop Shopify refuses (it holds no phone for the customer, say) is not dropped: Shopify's words
stay on the customer (``consent_writeback_refused``, shown on the customer-page block), the shop
has one open alert listing how many wait, and the stop is tried again an hour later
(``consent_writeback_retry_at``), until Shopify takes it. The alert is resolved when none waits.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from core.db import session_scope
from core.models import Customer
from core.rules.alert_codes import AlertCode
from core.rules.campaign_states import Consent
from core.shopify import alerts
from core.shopify.admin import AdminClient, UserErrors
from core.shopify.queries import WHATSAPP_CONSENT_UPDATE

log = logging.getLogger(__name__)

BATCH = 100  # stops written per shop per run (each is one mutation)
RETRY_AFTER = timedelta(hours=1)  # a refused stop waits this long before the next try
REFUSED_ALERT = AlertCode.CONSENT_WRITEBACK_REFUSED


def _due():
    """SQL: a stop waiting for Shopify whose next try is now."""
    return Customer.consent_writeback_at.is_not(None) & or_(
        Customer.consent_writeback_retry_at.is_(None), Customer.consent_writeback_retry_at <= func.now()
    )


def queue_consent_writeback(
    session: Session, shop_id: int, customer_ids: Iterable[int], at: datetime
) -> None:
    """Record, in the caller's transaction, that these customers (our ids) stopped WhatsApp
    marketing at ``at`` and Shopify must be told."""
    ids = list(customer_ids)
    if ids:
        session.execute(
            update(Customer)
            .where(Customer.shop_id == shop_id, Customer.id.in_(ids))
            .values(consent_writeback_at=at)
        )


def shops_with_pending() -> list[int]:
    """Shops with a stop to write back now (a refused one counts once its wait is over)."""
    with session_scope() as session:
        return list(session.scalars(select(Customer.shop_id).where(_due()).distinct()))


def write_back(client: AdminClient, shop_id: int) -> dict[str, int]:
    """Write up to BATCH due stops of the shop to Shopify; return what happened."""
    with session_scope() as session:
        pending = session.execute(
            select(Customer.id, Customer.shopify_customer_id, Customer.consent_writeback_at)
            .where(Customer.shop_id == shop_id, _due())
            .order_by(Customer.consent_writeback_at)
            .limit(BATCH)
        ).all()
    outcome = {"written": 0, "refused": 0}
    for customer_id, shopify_id, stopped_at in pending:
        try:
            _write(client, shopify_id, stopped_at)
        except UserErrors as refused:
            log.warning("consent write-back of customer %s refused: %s", shopify_id, refused)
            _refused(shop_id, customer_id, stopped_at, str(refused))
            outcome["refused"] += 1
        else:
            _done(shop_id, customer_id, stopped_at)
            outcome["written"] += 1
    if pending:
        _update_alert(shop_id)
    return outcome


def _write(client: AdminClient, shopify_id: int, stopped_at: datetime) -> None:
    consent = {"state": str(Consent.UNSUBSCRIBED), "updatedAt": stopped_at.isoformat()}
    client.mutate(
        WHATSAPP_CONSENT_UPDATE,
        {
            "input": {
                "customerId": f"gid://shopify/Customer/{shopify_id}",
                "whatsAppMarketingConsent": consent,
            }
        },
        "customerWhatsAppMarketingConsentUpdate",
        idempotent=True,  # setting the same state at the same time again changes nothing
    )


def _this_stop(shop_id: int, customer_id: int, stopped_at: datetime):
    """SQL: the customer, still waiting on this very stop (no newer stop came meanwhile, no
    resume or Shopify consent ended it)."""
    return (
        (Customer.shop_id == shop_id)
        & (Customer.id == customer_id)
        & (Customer.consent_writeback_at == stopped_at)
    )


def _done(shop_id: int, customer_id: int, stopped_at: datetime) -> None:
    """Shopify has the stop: clear the mark (and any earlier refusal)."""
    with session_scope() as session:
        session.execute(
            update(Customer)
            .where(_this_stop(shop_id, customer_id, stopped_at))
            .values(
                consent_writeback_at=None, consent_writeback_refused=None, consent_writeback_retry_at=None
            )
        )


def _refused(shop_id: int, customer_id: int, stopped_at: datetime, reason: str) -> None:
    """Shopify would not take the stop: keep it, with Shopify's words, and try again later
    (the merchant may fix what Shopify objects to, such as a missing phone)."""
    with session_scope() as session:
        session.execute(
            update(Customer)
            .where(_this_stop(shop_id, customer_id, stopped_at))
            .values(
                consent_writeback_refused=reason[:1000], consent_writeback_retry_at=func.now() + RETRY_AFTER
            )
        )


def _update_alert(shop_id: int) -> None:
    """One open alert while any stop of the shop is refused, saying how many and one of
    Shopify's reasons; resolved once none is."""
    with session_scope() as session:
        refused = session.execute(
            select(func.count(), func.max(Customer.consent_writeback_refused)).where(
                Customer.shop_id == shop_id,
                Customer.consent_writeback_at.is_not(None),
                Customer.consent_writeback_refused.is_not(None),
            )
        ).one()
        if not refused[0]:
            alerts.resolve(session, shop_id, REFUSED_ALERT)
            return
        details = (
            f"{refused[0]} customer(s) stopped WhatsApp marketing and Shopify refused to record it "
            f"(Shopify said: {refused[1]}). They are not messaged; the app tries again every hour. "
            "Fix what Shopify objects to (for example add the customer's phone in Shopify)."
        )
        alerts.keep_open(session, shop_id, REFUSED_ALERT, "Shopify refused to record WhatsApp stops", details)
