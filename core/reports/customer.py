"""What WhatsApp knows about one customer: the data of the customer-page block.

The customer as we hold them (phone as Shopify stores it and as E.164, or the reason it is not
sendable), their WhatsApp marketing consent, the calling-code fix when it applies, and their
latest campaign messages. Messages are serialised by the same ``MessageView`` as a campaign's
message list, so the block and the campaign pages never disagree about a message.
"""

from __future__ import annotations

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from core.models import Campaign, Customer, Message
from core.reports.message_list import MessageView, calling_code_fix
from core.rules.failure_codes import OurCode, describe
from core.rules.phones import check_phone


def find_customer(session: Session, shop_id: int, shopify_customer_id: int) -> Customer | None:
    """Return the shop's customer with that Shopify id, or None for another shop's or an unknown one."""
    return session.scalar(
        select(Customer).where(
            Customer.shop_id == shop_id, Customer.shopify_customer_id == shopify_customer_id
        )
    )


def latest_messages(session: Session, customer: Customer, limit: int) -> list[dict]:
    """Return the customer's ``limit`` newest messages, each with the campaign it belongs to."""
    query = (
        select(Message, Campaign.id, Campaign.name)
        .join(Campaign, and_(Campaign.shop_id == Message.shop_id, Campaign.id == Message.campaign_id))
        .where(Message.shop_id == customer.shop_id, Message.customer_id == customer.id)
        .order_by(Message.id.desc())
        .limit(limit)
    )
    return [
        MessageView(message, customer).as_json() | {"campaign": {"id": campaign_id, "name": name}}
        for message, campaign_id, name in session.execute(query)
    ]


def phone_problem(customer: Customer) -> dict | None:
    """Return why the stored phone cannot receive WhatsApp messages (None when it can), in the
    failure taxonomy's words."""
    problem = check_phone(customer.phone).problem
    if problem is None:
        return None
    info = describe(problem)
    return {"code": info.code, "category": str(info.category), "title": info.title, "remedy": info.remedy}


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def write_back_json(customer: Customer) -> dict | None:
    """A stop given inside WhatsApp that Shopify does not have yet (core/shopify/consent_writeback.py):
    when the customer stopped, Shopify's words if it refused it, and when it is tried again."""
    if customer.consent_writeback_at is None:
        return None
    return {
        "stopped_at": _iso(customer.consent_writeback_at),
        "refused": customer.consent_writeback_refused,
        "retry_at": _iso(customer.consent_writeback_retry_at),
    }


def customer_json(customer: Customer) -> dict:
    return {
        "shopify_id": customer.shopify_customer_id,
        "name": customer.name,
        "phone": customer.phone,
        "phone_e164": customer.phone_e164,
        "country_code": customer.country_code,
        "phone_problem": phone_problem(customer),
        "consent": {
            "state": customer.consent,
            "updated_at": _iso(customer.consent_updated_at),
            "source": customer.consent_source,
            "write_back": write_back_json(customer),
        },
    }


def customer_fix(customer: Customer) -> dict | None:
    """Return the calling-code fix for the phone as it is now (as a failed message carries it)."""
    if check_phone(customer.phone).problem != OurCode.CUSTOMER_IS_MISSING_CALLING_CODE:
        return None
    return calling_code_fix(customer)


def customer_whatsapp(session: Session, customer: Customer, limit: int) -> dict:
    """Return ``CustomerWhatsApp`` (CONTRACT.md): customer, fix, and messages newest first."""
    return {
        "customer": customer_json(customer),
        "fix": customer_fix(customer),
        "messages": latest_messages(session, customer, limit),
    }
