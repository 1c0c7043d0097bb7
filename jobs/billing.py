"""Credit packs: a purchase Shopify's webhook says changed, read back from Shopify and credited
when ACTIVE (core/shopify/billing.py). Queued by the Shopify drain once its transaction has
committed, so the read never happens inside it."""

from __future__ import annotations

import logging

from core.shopify.admin import AdminClient, ReauthorizationRequired
from core.shopify.billing import confirm_purchase
from jobs.queues import DEFAULT, VENDOR_RETRY, enqueue

log = logging.getLogger(__name__)


def request_purchase_check(shop_id: int, purchase_gid: str) -> None:
    """Queue one read-back of the purchase. Repeated webhooks may queue several: each reads
    Shopify again, and the grant happens once whatever their number (core/outcomes/purchases.py)."""
    enqueue(DEFAULT, check_credit_purchase, shop_id, purchase_gid, retry=VENDOR_RETRY)


def check_credit_purchase(shop_id: int, purchase_gid: str) -> dict:
    try:
        with AdminClient(shop_id) as client:
            applied = confirm_purchase(client, shop_id, purchase_gid)
    except ReauthorizationRequired as error:
        # The merchant's return to the app reads the purchase again with a renewed token.
        log.warning("credit purchase of shop %s not read back: %s", shop_id, error)
        return {"status": "reauthorization_required"}
    if applied.credited:
        log.info("shop %s: credit purchase %s credited %d", shop_id, purchase_gid, applied.credited)
    return {"status": applied.status, "credited": applied.credited, "found": applied.found}
