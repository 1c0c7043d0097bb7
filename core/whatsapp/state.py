"""Describe a shop's WhatsApp connection as the API and the Settings page show it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.models import MetaTemplateState, Shop, WhatsAppConnection


def is_connected(shop: Shop) -> bool:
    """Whether the shop can send: a number, its account and a token are all on the shop."""
    return bool(shop.meta_phone_number_id and shop.meta_waba_id and shop.meta_access_token_ciphertext)


def connection_of(session: Session, shop: Shop) -> WhatsAppConnection | None:
    """The shop's current connection row, or None (never connected, disconnected, or
    connected by a seed document and not checked with Meta yet)."""
    row = session.get(WhatsAppConnection, shop.id)
    if row is None or row.disconnected_at is not None or row.phone_number_id != shop.meta_phone_number_id:
        return None
    return row


def describe(session: Session, shop: Shop) -> dict:
    """The ``WhatsAppConnection`` of CONTRACT.md, or ``{"connected": false}``."""
    if not is_connected(shop):
        return {"connected": False}
    row = connection_of(session, shop)
    return {
        "connected": True,
        "waba_id": shop.meta_waba_id,
        "phone_number_id": shop.meta_phone_number_id,
        "display_phone_number": row.display_phone_number if row else None,
        "verified_name": row.verified_name if row else None,
        "quality_rating": row.quality_rating if row else None,
        "messaging_limit_tier": row.messaging_limit_tier if row else None,
        "throughput_level": row.throughput_level if row else None,
        "name_status": row.name_status if row else None,
        "number_status": row.number_status if row else None,
        "on_business_app": bool(row and row.on_business_app),
        "messaging_limit": row.messaging_limit if row else None,
        "quality_event": row.quality_event if row else None,
        "account_event": row.account_event if row else None,
        "send_cap_per_second": shop.send_cap_per_second,
        "webhooks_subscribed": bool(row and row.webhooks_subscribed),
        "webhook_fields_missing": row.webhook_fields_missing if row else None,
        "messages_per_second": shop.messages_per_second,
        # Whether the app registered the number on the Cloud API, and keeps its PIN (never shown
        # again: the merchant saw it once, in the answer of the call that registered it).
        "registered_at": _iso(row.registered_at if row else None),
        "two_step_pin_kept": bool(row and row.two_step_pin_ciphertext),
        "checked_at": _iso(row.checked_at if row else None),
        "last_webhook_at": _iso(row.last_webhook_at if row else None),
    }


def template_states(session: Session, shop_id: int) -> list[dict]:
    """The shop's templates as Meta's template webhooks last described them, by name; ``since``
    is Meta's time of the newest of the two facts."""
    query = select(MetaTemplateState).where(MetaTemplateState.shop_id == shop_id)
    rows = session.scalars(query.order_by(MetaTemplateState.name, MetaTemplateState.language))
    return [
        {
            "name": t.name,
            "language": t.language,
            "template_id": t.template_id,
            "status": t.status,
            "reason": t.reason,
            "quality": t.quality,
            "since": max((at for at in (t.status_at, t.quality_at) if at), default=None),
        }
        for t in rows
    ]


def note_webhooks_received(session: Session, shop_ids: Iterable[int], received_at: datetime) -> None:
    """Record that a Meta webhook for these shops' numbers arrived (the Settings page shows it)."""
    # One statement per shop (a batch holds few): on Citus each runs on its shop's shard alone.
    for shop_id in sorted(set(shop_ids)):
        session.execute(
            update(WhatsAppConnection)
            .where(WhatsAppConnection.shop_id == shop_id, WhatsAppConnection.disconnected_at.is_(None))
            .values(
                last_webhook_at=func.greatest(
                    func.coalesce(WhatsAppConnection.last_webhook_at, received_at), received_at
                )
            )
        )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
