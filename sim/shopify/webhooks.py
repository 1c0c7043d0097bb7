"""Signed webhooks to the app, as Shopify sends them.

``X-Shopify-Hmac-Sha256`` is the base64 HMAC-SHA256 of the raw body keyed with the app's
client secret. Each delivery has its own ``X-Shopify-Webhook-Id``; a delivery the app does not
answer with 2xx is sent again with the same id and body, as Shopify retries. A topic subscribed
with ``include_fields`` carries only those fields (``included``), as Shopify sends it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import queue
import threading
import time
import uuid

import requests

RETRIES = 3
RETRY_DELAY_S = 0.5


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def included(body: dict, include_fields: list[str]) -> dict:
    """``body`` as Shopify sends it under ``include_fields``: only the named fields, a nested
    one named with a period (``customer.id``), applied to every element of a list."""
    wanted: dict[str, list[str]] = {}
    for name in include_fields:
        head, _, rest = name.partition(".")
        wanted.setdefault(head, []).append(rest)
    return {
        key: body[key] if "" in rests else _included_value(body[key], rests)
        for key, rests in wanted.items()
        if key in body
    }


def _included_value(value: object, include_fields: list[str]) -> object:
    if isinstance(value, dict):
        return included(value, include_fields)
    if isinstance(value, list):
        return [_included_value(item, include_fields) for item in value]
    return value  # null where an object could be: Shopify sends the null


class WebhookSender:
    def __init__(self, state) -> None:
        self.state = state  # ShopifyState: config and stats
        self.outbox: queue.Queue = queue.Queue()
        self.thread: threading.Thread | None = None

    def headers(self, shop: str, topic: str, body: bytes, webhook_id: str, triggered_at: str) -> dict:
        config = self.state.config
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign(config.api_secret, body),
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": triggered_at,
            "X-Shopify-API-Version": config.webhook_api_version,
        }

    def send_now(
        self,
        shop: str,
        topic: str,
        payload: dict,
        *,
        webhook_id: str | None = None,
        triggered_at: str | None = None,
        url: str | None = None,
    ) -> dict:
        """Post one delivery (retried on failure); return the app's last status and the id."""
        url = url or self.state.config.webhook_url
        body = json.dumps(payload).encode()
        webhook_id = webhook_id or str(uuid.uuid4())
        triggered_at = triggered_at or time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        status = None
        for attempt in range(RETRIES):
            try:
                response = requests.post(
                    url,
                    data=body,
                    headers=self.headers(shop, topic, body, webhook_id, triggered_at),
                    timeout=10,
                )
                status = response.status_code
            except requests.RequestException:
                status = None
            self.state.stats["webhooks_posted"] += 1
            if status is not None and 200 <= status < 300:
                break
            if attempt + 1 < RETRIES:
                time.sleep(RETRY_DELAY_S)
        return {"status": status, "webhook_id": webhook_id, "triggered_at": triggered_at}

    def subscribed(self, topic: str, payload: dict) -> dict:
        """The body of ``topic`` as the app's subscription asks for it."""
        fields = self.state.config.include_fields.get(topic)
        return included(payload, fields) if fields else payload

    def send_later(self, shop: str, topic: str, payload: dict) -> None:
        """Queue a delivery for the sender thread (Shopify delivers after answering the call),
        reduced to the subscription's ``include_fields``."""
        if not self.state.config.webhook_url:
            return
        self.outbox.put((shop, topic, self.subscribed(topic, payload)))
        if self.thread is None or not self.thread.is_alive():
            self.thread = threading.Thread(target=self._run, name="shopify-webhooks", daemon=True)
            self.thread.start()

    def pending(self) -> int:
        return self.outbox.unfinished_tasks

    def _run(self) -> None:
        while True:
            shop, topic, payload = self.outbox.get()
            try:
                self.send_now(shop, topic, payload)
            finally:
                self.outbox.task_done()
