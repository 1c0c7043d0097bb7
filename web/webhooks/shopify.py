"""``POST /webhooks/shopify``: every Shopify topic, the compliance topics too.

Before Shopify hears 200 (it wants it within 5 seconds, and retries anything else for hours):
check the HMAC over the raw bytes, store the body and its delivery headers in the inbox, make
sure a drain is pending. A bad or missing HMAC gets 401 and nothing is stored (Shopify's app
review sends exactly that to the compliance endpoints).
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from core.settings import get_settings
from core.shopify import signature
from core.shopify.drain import API_VERSION, EVENT_ID, SHOP_DOMAIN, SOURCE, TOPIC, TRIGGERED_AT, WEBHOOK_ID
from jobs.shopify import request_shopify_drain
from web.webhooks.bodies import plain, raw_body_within, store_and_acknowledge

blueprint = Blueprint("shopify_webhooks", __name__)

# Shopify's REST bodies are small; a customer with many addresses stays far below this.
MAX_BODY_BYTES = 1024 * 1024
# Bodies are kept by their digest for good, so identical bytes are one event (a replay with
# fresh headers changes nothing). shop/redact is the exception: its body is the same for every
# uninstall of a shop ({shop_id, shop_domain}), and the erasure after a second install and
# uninstall is owed as much as the first; its digest also covers Shopify's event id, which
# Shopify's own retries of one event keep.
SAME_BYTES_NEW_EVENT = frozenset({"shop/redact"})
STORED_HEADERS = (TOPIC, SHOP_DOMAIN, WEBHOOK_ID, EVENT_ID, TRIGGERED_AT, API_VERSION, "Content-Type")


@blueprint.post("/webhooks/shopify")
def receive() -> Response:
    body = raw_body_within(MAX_BODY_BYTES)
    if isinstance(body, Response):
        return body
    secrets = get_settings().shopify_api_secrets
    if not any(signature.is_valid(secret, body, request.headers.get(signature.HEADER)) for secret in secrets):
        return plain("bad signature", 401)
    topic = request.headers.get(TOPIC, "").strip()
    if not topic or not request.headers.get(SHOP_DOMAIN):
        return plain(f"{TOPIC} and {SHOP_DOMAIN} are required", 400)
    headers = {name: request.headers[name] for name in STORED_HEADERS if name in request.headers}
    identity = headers.get(EVENT_ID) if topic in SAME_BYTES_NEW_EVENT else None
    return store_and_acknowledge(
        SOURCE, body, headers, request_shopify_drain, topic=topic[:128], identity=identity
    )
