"""Two-way consent: a stop the customer gave inside WhatsApp (Meta's ``user_preferences`` stop,
or a message failing with 131050) is written back to Shopify with
``customerWhatsAppMarketingConsentUpdate``, so Shopify, the source of consent for every app
the merchant uses, stays true.

The stop is recorded with the local unsubscribe, in the same transaction
(``consent_writeback_at`` = when the customer stopped): nothing is lost if Shopify is down or
Redis is; a periodic job (jobs/customer_import.py) writes what is pending. A later resume inside
WhatsApp cancels a stop not yet written. Writing the same stop twice changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.db import session_scope
from core.models import Customer
from core.rules.campaign_states import Consent
from core.shopify.admin import AdminClient, UserErrors
from core.shopify.queries import WHATSAPP_CONSENT_UPDATE

log = logging.getLogger(__name__)

BATCH = 100  # stops written per shop per run (each is one mutation)


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
    with session_scope() as session:
        query = select(Customer.shop_id).where(Customer.consent_writeback_at.is_not(None)).distinct()
        return list(session.scalars(query))


def write_back(client: AdminClient, shop_id: int) -> dict[str, int]:
    """Write up to BATCH pending stops of the shop to Shopify; return what happened."""
    with session_scope() as session:
        pending = session.execute(
            select(Customer.id, Customer.shopify_customer_id, Customer.consent_writeback_at)
            .where(Customer.shop_id == shop_id, Customer.consent_writeback_at.is_not(None))
            .order_by(Customer.consent_writeback_at)
            .limit(BATCH)
        ).all()
    outcome = {"written": 0, "refused": 0}
    for customer_id, shopify_id, stopped_at in pending:
        try:
            _write(client, shopify_id, stopped_at)
            outcome["written"] += 1
        except UserErrors as refused:
            # Shopify will not take it (no phone number, a deleted customer): nothing to retry.
            log.warning("consent write-back of customer %s refused: %s", shopify_id, refused)
            outcome["refused"] += 1
        _done(shop_id, customer_id, stopped_at)
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


def _done(shop_id: int, customer_id: int, stopped_at: datetime) -> None:
    """Clear the mark unless a newer stop came while we wrote this one."""
    with session_scope() as session:
        session.execute(
            update(Customer)
            .where(
                Customer.shop_id == shop_id,
                Customer.id == customer_id,
                Customer.consent_writeback_at == stopped_at,
            )
            .values(consent_writeback_at=None)
        )
