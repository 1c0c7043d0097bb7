"""The obvious design, for comparison only: one RQ job per webhook, run by RQ's forking worker,
and one ORM read-modify-write per status, committed one by one, with the same ratchet and the
same counters as ours (so both sides end with the same numbers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select

from core.db import session_factory
from core.models import Campaign, Message, Shop
from core.rules.statuses import FAILED_STATUSES, META_STATUS_ALIASES, RANK

NAIVE_QUEUE = "bench-naive"


def apply_webhook_naively(body: bytes) -> int:
    document = json.loads(body)
    applied = 0
    with session_factory()() as session:
        for entry in document.get("entry", []):
            for change in entry.get("changes", []):
                value = change.get("value", {})
                phone = value.get("metadata", {}).get("phone_number_id")
                shop = session.scalar(select(Shop).where(Shop.meta_phone_number_id == phone))
                if shop is None:
                    continue
                for status in value.get("statuses", []):
                    applied += _apply_one(session, shop.id, status)
    return applied


def _apply_one(session, shop_id: int, status: dict) -> int:
    message = session.scalar(
        select(Message).where(Message.shop_id == shop_id, Message.wamid == status["id"]).with_for_update()
    )
    if message is None:
        session.rollback()
        return 0
    name = META_STATUS_ALIASES.get(status["status"], status["status"])
    at = datetime.fromtimestamp(int(status["timestamp"]), UTC)
    campaign = session.get(Campaign, (shop_id, message.campaign_id), with_for_update=True)
    was_delivered, was_read = message.delivered_at is not None, message.read_at is not None
    was_failed = message.status in FAILED_STATUSES
    if RANK.get(name, -1) > RANK.get(message.status, -1):
        message.status = name
    if name in ("delivered", "read") and message.delivered_at is None:
        message.delivered_at = at
    if name == "read" and message.read_at is None:
        message.read_at = at
    if name == "sent" and message.sent_at is None:
        message.sent_at = at
    if name == "failed" and message.failed_at is None:
        message.failed_at = at
    campaign.delivered_count += (message.delivered_at is not None) - was_delivered
    campaign.read_count += (message.read_at is not None) - was_read
    campaign.failed_count += (message.status in FAILED_STATUSES) - was_failed
    session.commit()
    return 1
