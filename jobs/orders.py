"""The install-time import of recent orders (core/shopify/order_import.py)."""

from __future__ import annotations

import logging

from core.shopify.admin import ReauthorizationRequired
from core.shopify.order_import import import_recent_orders
from jobs.queues import DEFAULT, VENDOR_RETRY, enqueue

log = logging.getLogger(__name__)


def request_order_import(shop_id: int) -> bool:
    """Queue the import unless one for this shop is queued or running."""
    job = enqueue(
        DEFAULT,
        import_orders,
        shop_id,
        job_id=f"shopify-order-import-{shop_id}",
        unique=True,
        retry=VENDOR_RETRY,
    )
    return job is not None


def import_orders(shop_id: int) -> dict:
    try:
        result = import_recent_orders(shop_id)
    except ReauthorizationRequired as error:
        log.warning("order import of shop %s stopped: %s", shop_id, error)
        return {"status": "reauthorization_required"}
    log.info("order import of shop %s: %s", shop_id, result)
    return {"status": "done", **result}
