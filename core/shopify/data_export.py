"""What a ``customers/data_request`` hands over: everything we hold about the customer.

The customer as we hold them, their consent as we hold it, and one record per message held
about them: the messages of their customer row, and the messages that earlier customer records
of the same number left when Shopify deleted them (detached from any row, found by the number
as a whole: core/rules/redaction.py). Each record gives the number messaged, the campaign, the
status with every stage time, the error, the clicks and the orders the message won
(core/outcomes/attribution.py's rule, for the orders of the customer's own row).

The privacy job gathers it (core/shopify/privacy.py): first what the customer row leads to, by
key, then the shop's messages a chunk at a time for the detached ones.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.models import Campaign, Click, Customer, Message, Shop
from core.outcomes.attribution import attributed_orders
from core.rules.failure_codes import describe
from core.rules.redaction import Numbers
from core.shopify import erasure

CURRENT, DELETED = "current", "deleted"  # the customer record a message belongs to


def customer_part(session: Session, shop_id: int, customer: Customer | None) -> dict:
    """The customer, their consent and the records of their own messages."""
    if customer is None:
        return {"customer": None, "consent": None, "messages": []}
    messages = session.scalars(
        select(Message)
        .where(Message.shop_id == shop_id, Message.customer_id == customer.id)
        .order_by(Message.id)
    ).all()
    return {
        "customer": _customer(customer),
        "consent": _consent(customer),
        "messages": records(
            session, shop_id, messages, CURRENT, orders=_orders_won(session, shop_id, messages)
        ),
    }


def detached_part(
    session: Session, shop_id: int, numbers: Numbers, after: int
) -> tuple[list[dict], int | None]:
    """Records of the detached messages to the customer's numbers among the shop's next chunk
    of messages after id ``after``, and where the next chunk starts (None: none left)."""
    chunk = session.execute(
        select(Message.id, Message.customer_id, Message.phone, Message.wa_id)
        .where(Message.shop_id == shop_id, Message.id > after)
        .order_by(Message.id)
        .limit(erasure.CHUNK_ROWS)
    ).all()
    detached = [
        m.id
        for m in chunk
        if m.customer_id is None and (numbers.written_in(m.phone) or numbers.written_in(m.wa_id))
    ]
    messages = (
        session.scalars(
            select(Message).where(Message.shop_id == shop_id, Message.id.in_(detached)).order_by(Message.id)
        ).all()
        if detached
        else []
    )
    next_after = chunk[-1].id if len(chunk) == erasure.CHUNK_ROWS else None
    return records(session, shop_id, messages, DELETED, orders={}), next_after


def records(
    session: Session, shop_id: int, messages: Sequence[Message], belongs_to: str, *, orders: dict[int, list]
) -> list[dict]:
    """One record per message, as the download shows it."""
    if not messages:
        return []
    ids = [m.id for m in messages]
    names = dict(
        session.execute(
            select(Campaign.id, Campaign.name).where(
                Campaign.shop_id == shop_id, Campaign.id.in_({m.campaign_id for m in messages})
            )
        ).all()
    )
    clicks = defaultdict(list)
    for click in session.scalars(
        select(Click).where(Click.shop_id == shop_id, Click.message_id.in_(ids)).order_by(Click.id)
    ):
        clicks[click.message_id].append({"kind": click.kind, "at": _iso(click.clicked_at)})
    return [
        _record(m, names.get(m.campaign_id), belongs_to, clicks[m.id], orders.get(m.id, [])) for m in messages
    ]


def _record(message: Message, campaign: str | None, belongs_to: str, clicks: list, orders: list) -> dict:
    return {
        "campaign": {"id": message.campaign_id, "name": campaign},
        "customer_record": belongs_to,
        "phone": message.phone,
        "whatsapp_id": message.wa_id,
        "status": message.status,
        "error": _error(message),
        "created_at": _iso(message.created_at),
        "submitted_at": _iso(message.submitted_at),
        "accepted_at": _iso(message.accepted_at),
        "sent_at": _iso(message.sent_at),
        "delivered_at": _iso(message.delivered_at),
        "read_at": _iso(message.read_at),
        "failed_at": _iso(message.failed_at),
        "expired_at": _iso(message.expired_at),
        "clicks": clicks,
        "attributed_orders": orders,
    }


def _error(message: Message) -> dict | None:
    if not message.error_code:
        return None
    return {
        "code": message.error_code,
        "title": message.error_title or describe(message.error_code).title,
        "details": message.error_details,
    }


def _orders_won(session: Session, shop_id: int, messages: Sequence[Message]) -> dict[int, list]:
    """The orders each of these messages won, by message id."""
    if not messages:
        return {}
    window = session.scalar(select(Shop.attribution_window_days).where(Shop.id == shop_id))
    won = defaultdict(list)
    ids = {m.id for m in messages}
    for order in attributed_orders(session, shop_id, window, sorted({m.campaign_id for m in messages})):
        if order.message_id in ids:
            won[order.message_id].append(
                {
                    "shopify_order_id": order.shopify_order_id,
                    "ordered_at": _iso(order.ordered_at),
                    "amount": f"{order.net:.2f}",
                    "currency": order.currency,
                    "touch": order.touch,
                }
            )
    return won


def _customer(customer: Customer) -> dict:
    return {
        "shopify_id": customer.shopify_customer_id,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "phone_e164": customer.phone_e164,
        "country_code": customer.country_code,
        "tags": list(customer.tags),
        "whatsapp_marketing_consent": customer.consent,
        "sms_marketing_consent": customer.sms_consent,
    }


def _consent(customer: Customer) -> dict:
    """The consent we hold: the latest state of each channel, when it was set and by whom, and
    a stop given inside WhatsApp that Shopify has not been told yet."""
    return {
        "whatsapp": {
            "state": customer.consent,
            "updated_at": _iso(customer.consent_updated_at),
            "source": customer.consent_source,
        },
        "sms": {"state": customer.sms_consent, "updated_at": _iso(customer.sms_consent_updated_at)},
        "stop_not_yet_written_to_shopify_since": _iso(customer.consent_writeback_at),
    }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
