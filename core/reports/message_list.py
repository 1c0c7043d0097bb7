"""The per-message view of a campaign: filters, keyset pages and the row a merchant sees.

One query shape serves the JSON API, the failed-messages page and the CSV export, so the three
always show exactly the same rows for the same filters. Pages are keyed by message id (never
OFFSET): the campaign's ``(shop_id, campaign_id, status, id)`` index walks them in order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Row, Select, and_, func, or_, select

from core.campaigns.us_numbers import US_REMEDY
from core.models import Customer, Message
from core.rules.failure_codes import Category, OurCode, describe
from core.rules.phones import is_us_number, suggest_e164
from core.rules.statuses import FAILED_STATUSES, MessageStatus

ADMIN_CUSTOMER_URL = "shopify://admin/customers/{}"
# Characters a merchant may type in a phone search besides digits.
_PHONE_PUNCTUATION = set("+-() .")


@dataclass(frozen=True)
class MessageFilter:
    statuses: tuple[str, ...] = ()
    error_code: str | None = None
    category: str | None = None
    search: str | None = None

    @classmethod
    def failed(cls, **fields) -> MessageFilter:
        return cls(statuses=tuple(str(s) for s in FAILED_STATUSES), **fields)


class BadFilter(ValueError):
    """A filter value that names no status or category; the message says which."""


def parse_statuses(raw: str | None) -> tuple[str, ...]:
    """``failed,expired`` -> ("failed", "expired"); empty means every status."""
    values = tuple(v.strip() for v in (raw or "").split(",") if v.strip())
    unknown = [v for v in values if v not in MessageStatus._value2member_map_]
    if unknown:
        allowed = ", ".join(s.value for s in MessageStatus)
        raise BadFilter(f"status must be one or more of {allowed} (comma-separated)")
    return values


def parse_category(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw not in Category._value2member_map_:
        raise BadFilter(f"category must be one of {', '.join(c.value for c in Category)}")
    return raw


def _code_condition(code: str):
    # An expired message may carry no code of its own: it counts as MESSAGE_EXPIRED everywhere.
    if code == OurCode.MESSAGE_EXPIRED:
        return or_(
            Message.error_code == code,
            and_(Message.error_code.is_(None), Message.status == MessageStatus.EXPIRED),
        )
    return Message.error_code == code


def _category_condition(category: str):
    if category == Category.DELIVERY:
        return or_(
            Message.error_category == category,
            and_(Message.error_code.is_(None), Message.status == MessageStatus.EXPIRED),
        )
    return Message.error_category == category


def _search_condition(search: str):
    digits = "".join(ch for ch in search if ch.isdigit())
    if len(digits) >= 3 and all(ch.isdigit() or ch in _PHONE_PUNCTUATION for ch in search):
        # Compare digits only: "612 34 56" finds "+34612345678" however either was typed.
        return or_(
            func.regexp_replace(Customer.phone, r"\D", "", "g").contains(digits),
            func.regexp_replace(Message.phone, r"\D", "", "g").contains(digits),
        )
    name = func.concat_ws(" ", Customer.first_name, Customer.last_name)
    return name.icontains(search.strip(), autoescape=True)


def message_query(
    shop_id: int, campaign_id: int, filters: MessageFilter, *, after_id: int | None, limit: int | None
) -> Select:
    """The filtered messages of one campaign with their customer as we hold them now, by id."""
    query = (
        select(Message, Customer)
        .outerjoin(Customer, and_(Customer.shop_id == Message.shop_id, Customer.id == Message.customer_id))
        .where(Message.shop_id == shop_id, Message.campaign_id == campaign_id)
    )
    if filters.statuses:
        query = query.where(Message.status.in_(filters.statuses))
    if filters.error_code:
        query = query.where(_code_condition(filters.error_code))
    if filters.category:
        query = query.where(_category_condition(filters.category))
    if filters.search and filters.search.strip():
        query = query.where(_search_condition(filters.search))
    if after_id is not None:
        query = query.where(Message.id > after_id)
    query = query.order_by(Message.id)
    return query.limit(limit) if limit is not None else query


def calling_code_fix(customer: Customer) -> dict:
    """Return how to fix a phone typed without its country calling code: the customer in the
    admin and the number we suggest (core/rules/phones.py; None when we cannot vouch for one)."""
    return {
        "admin_url": ADMIN_CUSTOMER_URL.format(customer.shopify_customer_id),
        "suggested_phone": suggest_e164(customer.phone, customer.country_code),
        # The customer's number is valid by now (fixed in Shopify since the send).
        "fixed": customer.phone_e164 is not None,
    }


@dataclass(frozen=True)
class MessageView:
    """A message as the merchant sees it: its error described by the one taxonomy, and for a
    phone missing its country code, the way to fix it."""

    message: Message
    customer: Customer | None

    @property
    def error_code(self) -> str | None:
        if self.message.error_code:
            return self.message.error_code
        return OurCode.MESSAGE_EXPIRED.value if self.message.status == MessageStatus.EXPIRED else None

    def error(self) -> dict | None:
        code = self.error_code
        if code is None:
            return None
        info = describe(code)
        return {
            "code": info.code,
            "category": self.message.error_category or str(info.category),
            "title": self.message.error_title or info.title,
            "details": self.message.error_details,
            # 131049 on a US number is WhatsApp's pause of marketing to the US, not a 24-hour cap.
            "remedy": US_REMEDY if code == "131049" and is_us_number(self.message.phone) else info.remedy,
        }

    def fix(self) -> dict | None:
        """Only a phone typed without its country code is fixable from here. The suggestion
        reads the number as national to the customer's address country, and only a number
        ``phonenumbers`` finds valid is offered (core/rules/phones.py)."""
        if self.error_code != OurCode.CUSTOMER_IS_MISSING_CALLING_CODE or self.customer is None:
            return None
        return calling_code_fix(self.customer)

    def customer_json(self) -> dict | None:
        if self.customer is None:
            return None
        return {
            "shopify_id": self.customer.shopify_customer_id,
            "name": self.customer.name,
            "phone": self.customer.phone,
        }

    def as_json(self) -> dict:
        m = self.message
        return {
            "id": m.id,
            "wamid": m.wamid,
            "status": m.status,
            "customer": self.customer_json(),
            "phone": m.phone,
            "error": self.error(),
            "sent_at": _iso(m.sent_at),
            "delivered_at": _iso(m.delivered_at),
            "read_at": _iso(m.read_at),
            "failed_at": _iso(m.failed_at),
            "expired_at": _iso(m.expired_at),
            "fix": self.fix(),
            "variant_id": m.variant_id,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def views(rows: Sequence[Row]) -> list[MessageView]:
    return [MessageView(message, customer) for message, customer in rows]
