"""Shopify's mandatory compliance requests: erase a customer, erase a shop, hand over a
customer's data.

The Shopify drain applies each request's part that is found by key, and records the rest for
the shop's privacy job (jobs/privacy.py), which carries it out a bounded step at a time, each
step its own transaction (``PrivacyRequest``), so no drain ever waits on a scan of a shop:

- ``customers/redact``: in the drain, the customer row goes (tombstoned, so no late webhook or
  import brings it back) with the numbers of their own messages, their phone fixes, the
  snapshots of their data requests and the link from their orders (which stay, for the shop's
  revenue). The job then erases their number from the rest of the shop (core/shopify/erasure.py).
- ``shop/redact``: Shopify sends it 48 hours after an uninstall and never to an installed app,
  so the signed request is itself proof of the uninstall, even when ``app/uninstalled`` was
  missed: the drain uninstalls the shop, the job erases it (core/shopify/shop_erasure.py).
- ``customers/data_request``: the drain records it; the job gathers what we hold
  (core/shopify/data_export.py) for the merchant to download from Settings.

Shopify's bodies hold customers' personal data too: an erasure masks them (the customer) or
empties them (the shop), and the retention sweep (jobs/shopify.py) forgets the rest within days.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from core.models import (
    Customer,
    CustomerDataRequest,
    CustomerTombstone,
    Message,
    Order,
    PhoneFix,
    PrivacyRequest,
    Shop,
    WhatsAppConnection,
)
from core.rules.phones import suggest_e164
from core.rules.redaction import Numbers, phone_digests
from core.shopify import data_export, erasure, shop_erasure
from core.shopify.customers import lock_customers, remove_customers

CUSTOMER, SHOP, EXPORT = "customer", "shop", "export"
LAST = "last"  # a shop erasure's last step: the shop row, once no other row is left
# Topics whose request the drain leaves to the privacy job: it queues the job for the shop.
QUEUED_TOPICS = frozenset({"customers/redact", "shop/redact", "customers/data_request"})
DONE = "done"


# ---- what the drain does -------------------------------------------------------------------------


def delete_customer(session: Session, shop_id: int, shopify_customer_id: int) -> int:
    """``customers/delete``: remove the customer (tombstoned), keeping on the tombstone only the
    digests of their numbers, so that a later redaction still finds the messages this detaches."""
    lock_customers(session, shop_id)
    customer = _customer(session, shop_id, shopify_customer_id)
    removed = remove_customers(session, shop_id, [shopify_customer_id], "deleted")
    if customer is not None:
        session.execute(
            update(CustomerTombstone)
            .where(
                CustomerTombstone.shop_id == shop_id,
                CustomerTombstone.shopify_customer_id == shopify_customer_id,
            )
            .values(phone_digests=phone_digests([customer.phone, customer.phone_e164]) or None)
        )
    return removed


def redact_customer(
    session: Session, shop_id: int, shopify_customer_id: int, phone: str | None = None
) -> int:
    """Erase what the customer row leads to (see the module's docstring) and record the
    erasure of their numbers (those ``phone`` of Shopify's request, the row and their messages
    were written in, and a deletion's digests) from the rest of the shop."""
    lock_customers(session, shop_id)
    customer = _customer(session, shop_id, shopify_customer_id)
    digests = _known_numbers(session, shop_id, shopify_customer_id, customer, phone)
    if customer is not None:
        own = session.scalars(
            select(Message.id)
            .where(Message.shop_id == shop_id, Message.customer_id == customer.id)
            .order_by(Message.id)
            .with_for_update()
        ).all()
        erasure.forget_sent_numbers(session, shop_id, own)
        session.execute(
            delete(PhoneFix).where(PhoneFix.shop_id == shop_id, PhoneFix.customer_id == customer.id)
        )
    session.execute(
        update(Order)
        .where(Order.shop_id == shop_id, Order.shopify_customer_id == shopify_customer_id)
        .values(shopify_customer_id=None)
    )
    removed = remove_customers(session, shop_id, [shopify_customer_id], "redacted")
    session.execute(
        update(CustomerTombstone)
        .where(
            CustomerTombstone.shop_id == shop_id, CustomerTombstone.shopify_customer_id == shopify_customer_id
        )
        .values(phone_digests=None)
    )
    _forget_snapshots(session, shop_id, shopify_customer_id)
    session.add(
        PrivacyRequest(
            shop_id=shop_id,
            kind=CUSTOMER,
            shopify_customer_id=shopify_customer_id,
            phone_digests=digests or None,
            step="messages",
        )
    )
    return removed


def record_shop_erasure(session: Session, shop_id: int) -> None:
    """Record the erasure of the shop (once); from now on the Shopify drain treats the shop as
    gone (being_erased)."""
    if not session.scalar(
        select(exists().where(PrivacyRequest.shop_id == shop_id, PrivacyRequest.kind == SHOP))
    ):
        session.add(PrivacyRequest(shop_id=shop_id, kind=SHOP, step="rows"))


def being_erased(session: Session, shop_ids: Sequence[int]) -> set[int]:
    """Which of ``shop_ids`` have had their erasure asked for. A statement of its own, naming
    the shops, rather than a condition correlated with ``shops``: on Citus ``shops`` is a
    reference table, and a subquery correlated with one is refused (docs/scaling.md)."""
    if not shop_ids:
        return set()
    asked = select(PrivacyRequest.shop_id).where(
        PrivacyRequest.shop_id.in_(shop_ids), PrivacyRequest.kind == SHOP
    )
    return set(session.scalars(asked))


def record_data_request(session: Session, shop_id: int, body: dict, shopify_customer_id: int) -> int:
    """Keep the request; the privacy job gathers what we hold for it. Return the request's id."""
    customer_part = body.get("customer") if isinstance(body.get("customer"), dict) else {}
    phone = customer_part.get("phone") if isinstance(customer_part.get("phone"), str) else None
    request = CustomerDataRequest(
        shop_id=shop_id,
        shopify_customer_id=shopify_customer_id,
        data_request_id=_int((body.get("data_request") or {}).get("id")),
        orders_requested=[o for o in body.get("orders_requested") or [] if isinstance(o, int | str)],
        held=None,
    )
    session.add(request)
    session.flush()
    customer = _customer(session, shop_id, shopify_customer_id)
    digests = _known_numbers(session, shop_id, shopify_customer_id, customer, phone)
    session.add(
        PrivacyRequest(
            shop_id=shop_id,
            kind=EXPORT,
            shopify_customer_id=shopify_customer_id,
            data_request_id=request.id,
            phone_digests=digests or None,
            step="start",
        )
    )
    return request.id


def _known_numbers(
    session: Session, shop_id: int, shopify_customer_id: int, customer: Customer | None, phone: str | None
) -> list[bytes]:
    """Digests of every form the customer's number is known in: Shopify's request, the row (as
    Shopify holds it, as E.164, and a local number read in the customer's own country, as the
    phone fix would write it), the numbers their own messages went to, and the digests a
    deletion left on their tombstone."""
    written = [phone]
    if customer is not None:
        written += [customer.phone, customer.phone_e164, suggest_e164(customer.phone, customer.country_code)]
        for sent_to, wa_id in session.execute(
            select(Message.phone, Message.wa_id).where(
                Message.shop_id == shop_id, Message.customer_id == customer.id
            )
        ):
            written += [sent_to, wa_id]
    tombstone = session.get(CustomerTombstone, (shop_id, shopify_customer_id))
    left = [bytes(d) for d in (tombstone.phone_digests or [])] if tombstone else []
    return sorted({*phone_digests(written), *left})


def _forget_snapshots(session: Session, shop_id: int, shopify_customer_id: int) -> None:
    session.execute(
        update(CustomerDataRequest)
        .where(
            CustomerDataRequest.shop_id == shop_id,
            CustomerDataRequest.shopify_customer_id == shopify_customer_id,
        )
        .values(held=None)
    )


def _customer(session: Session, shop_id: int, shopify_customer_id: int) -> Customer | None:
    return session.scalar(
        select(Customer).where(
            Customer.shop_id == shop_id, Customer.shopify_customer_id == shopify_customer_id
        )
    )


# ---- what the privacy job does -------------------------------------------------------------------


def meta_numbers_held(session: Session, shop_id: int) -> list[str]:
    """The WhatsApp numbers (phone number ids) the shop holds or held; which of them route
    to it now is for Meta's routing to say (jobs/privacy.py)."""
    current = session.scalar(select(Shop.meta_phone_number_id).where(Shop.id == shop_id))
    former = session.scalars(
        select(WhatsAppConnection.phone_number_id).where(WhatsAppConnection.shop_id == shop_id)
    ).all()
    return sorted({n for n in (current, *former) if n})


def shops_with_open_requests(session: Session) -> list[int]:
    """Every shop with a privacy request not finished (the periodic sweep's question)."""
    return list(
        session.scalars(select(PrivacyRequest.shop_id).where(PrivacyRequest.finished_at.is_(None)).distinct())
    )


def next_step(session: Session, shop_id: int, meta_numbers: Sequence[str]) -> bool:
    """Carry out one bounded step of the shop's next open request (a shop erasure first, then
    by arrival) in the caller's transaction; False when none is open. ``meta_numbers``: the
    phone number ids routed to the shop now, kept by the request when it starts."""
    request = session.scalars(
        select(PrivacyRequest)
        .where(PrivacyRequest.shop_id == shop_id, PrivacyRequest.finished_at.is_(None))
        .order_by(PrivacyRequest.kind != SHOP, PrivacyRequest.id)
        .limit(1)
        .with_for_update()  # two runs of the job take turns, step by step
    ).first()
    if request is None:
        return False
    if request.phone_number_ids is None:
        request.phone_number_ids = list(meta_numbers)
    _STEPS[request.kind](session, request)
    return True


def _advance(request: PrivacyRequest, reached: int | None, then: str) -> None:
    """Record where the step got: on to its next chunk, or to the step ``then``."""
    if reached is None:
        request.step, request.reached_id = then, 0
    else:
        request.reached_id = reached


def _finish(request: PrivacyRequest) -> None:
    request.step, request.phone_digests, request.finished_at = DONE, None, datetime.now(UTC)


def _erase_customer_numbers(session: Session, request: PrivacyRequest) -> None:
    numbers = Numbers.of(request.phone_digests or [])
    shop_id, after = request.shop_id, request.reached_id
    if not numbers.digests:
        request.step = DONE  # no number known: nothing to look for
    elif request.step == "messages":
        _advance(request, erasure.erase_from_messages(session, shop_id, numbers, after), "parked")
    elif request.step == "parked":
        _advance(request, erasure.erase_from_parked(session, shop_id, numbers, after), "bodies")
    elif request.step == "bodies":
        domain = session.scalar(select(Shop.domain).where(Shop.id == shop_id))
        reached = erasure.erase_from_bodies(session, domain, request.phone_number_ids, numbers, after)
        _advance(request, reached, DONE)
    if request.step == DONE:
        # An export gathered meanwhile from what was still held keeps none of it.
        _forget_snapshots(session, shop_id, request.shopify_customer_id)
        _finish(request)


def _gather_export(session: Session, request: PrivacyRequest) -> None:
    shop_id = request.shop_id
    data_request = session.get(CustomerDataRequest, (shop_id, request.data_request_id), with_for_update=True)
    tombstone = session.get(CustomerTombstone, (shop_id, request.shopify_customer_id))
    numbers = Numbers.of(request.phone_digests or [])
    if data_request is None:
        request.step = DONE
    elif tombstone is not None and tombstone.reason == "redacted":
        data_request.held, request.step = None, DONE  # erased since it was asked for: none held
    elif request.step == "start":
        customer = _customer(session, shop_id, request.shopify_customer_id)
        data_request.held = data_export.customer_part(session, shop_id, customer)
        request.step = "detached" if numbers.digests else DONE
    elif request.step == "detached":
        found, reached = data_export.detached_part(session, shop_id, numbers, request.reached_id)
        if found:
            held = dict(data_request.held or {})
            data_request.held = held | {"messages": [*held.get("messages", []), *found]}
        _advance(request, reached, DONE)
    if request.step == DONE:
        if data_request is not None:
            data_request.collected_at = datetime.now(UTC)
        _finish(request)


def _erase_shop(session: Session, request: PrivacyRequest) -> None:
    shop_id = request.shop_id
    if request.step == "rows":
        if not shop_erasure.delete_rows(session, shop_id):
            request.step, request.reached_id = "bodies", 0
    elif request.step == "bodies":
        domain = session.scalar(select(Shop.domain).where(Shop.id == shop_id))
        reached = shop_erasure.drop_bodies(session, domain, request.phone_number_ids, request.reached_id)
        _advance(request, reached, LAST)
    elif shop_erasure.rows_left(session, shop_id):
        request.step = "rows"  # events applied while it ran: delete those too
    else:
        session.flush()
        session.expunge(request)  # it goes with the shop, by cascade
        shop_erasure.delete_shop(session, shop_id)


_STEPS = {CUSTOMER: _erase_customer_numbers, EXPORT: _gather_export, SHOP: _erase_shop}


# ---- what the merchant sees ----------------------------------------------------------------------


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def open_data_requests(session: Session, shop_id: int) -> list[CustomerDataRequest]:
    """The shop's data requests not yet marked done, oldest first (Shopify allows 30 days)."""
    return list(
        session.scalars(
            select(CustomerDataRequest)
            .where(CustomerDataRequest.shop_id == shop_id, CustomerDataRequest.fulfilled_at.is_(None))
            .order_by(CustomerDataRequest.received_at, CustomerDataRequest.id)
        )
    )


def data_request_summary(request: CustomerDataRequest) -> dict:
    """One open request as the API and the Settings page list it."""
    return {
        "id": request.id,
        "shopify_customer_id": request.shopify_customer_id,
        "data_request_id": request.data_request_id,
        "received_at": request.received_at.isoformat(),
        "collected": request.collected_at is not None,
        "has_data": bool(request.held and (request.held.get("customer") or request.held.get("messages"))),
    }


def data_request_document(request: CustomerDataRequest) -> dict:
    """What the merchant hands the customer: the data we held when Shopify asked, and the request."""
    held = request.held or {}
    return {
        "request": {
            "data_request_id": request.data_request_id,
            "shopify_customer_id": request.shopify_customer_id,
            "orders_requested": request.orders_requested,
            "received_at": request.received_at.isoformat(),
        },
        "customer": held.get("customer"),
        "consent": held.get("consent"),
        "messages": held.get("messages") or [],
        "note": _note(request, held),
    }


def _note(request: CustomerDataRequest, held: dict) -> str | None:
    if request.collected_at is None:
        return "The app is still gathering this customer's data: download it again in a minute."
    if not (held.get("customer") or held.get("messages")):
        return "This app held no data about the customer (or it has since been erased)."
    return None
