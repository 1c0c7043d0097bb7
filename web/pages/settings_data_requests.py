"""The Settings page's section for Shopify's customer data requests (``customers/data_request``):
each open request with a download of the customer's data and a way to mark it handed over."""

from __future__ import annotations

from core.models import Shop
from core.shopify.privacy import data_request_summary, open_data_requests
from web.database import db
from web.pages.settings_page import settings_section


@settings_section("settings/_data_requests.html", order=50)
def data_requests_section(shop: Shop) -> dict:
    """The shop's open data requests, oldest first."""
    requests = open_data_requests(db(), shop.id)
    return {"requests": [data_request_summary(r) | {"received": r.received_at} for r in requests]}
