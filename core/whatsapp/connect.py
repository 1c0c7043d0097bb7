"""Connect a shop's WhatsApp number: check everything with Meta first, then store it.

The order matters. Nothing is stored until Meta has confirmed the number (its fields), that it
belongs to the WhatsApp Business Account given, that the token can read the account's message
templates, and has taken our app's subscription to the account's webhooks. Last, when the caller
asks for it, a number not yet on the Cloud API is registered (core/whatsapp/registration.py); its
new PIN is stored encrypted with the rest. The checks run with no database transaction open (a
slow Meta must not hold locks); the store is one short transaction afterwards. Whether another
shop holds the number is told only after Meta has accepted the caller's token for it (otherwise
anyone with a session could learn which numbers use the app), and the unique key on
``shops.meta_phone_number_id`` decides again when storing. Disconnecting is
core/whatsapp/release.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import case, func, literal, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.crypto import decrypt_token, encrypt_token
from core.models import Shop, WhatsAppConnection
from core.rules.account_events import SUBSCRIBED_FIELDS
from core.settings import get_settings
from core.whatsapp import graph, registration
from core.whatsapp.graph import GraphRefused, GraphUnreachable, PhoneNumber

T = TypeVar("T")
_GRAPH_ID = re.compile(r"^\d{1,64}$")
MAX_TOKEN_LENGTH = 4096
# Messages a second per throughput level (Meta's throughput page: 80 by default, 1,000 after the
# automatic upgrade). An unknown level keeps the default. A number also used in the WhatsApp
# Business app (``is_on_biz_app``, coexistence) is fixed at 20, whatever level it reports.
THROUGHPUT_MPS = {"STANDARD": 80, "HIGH": 1000}
DEFAULT_MPS = 80
COEXISTENCE_MPS = 20


class ConnectionRefused(Exception):
    """The request or Meta refused the connection: ``errors`` name each field and the reason."""

    def __init__(self, errors: list[dict]):
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors

    @classmethod
    def on(cls, field: str, message: str, meta_code: int | None = None) -> ConnectionRefused:
        """One refused field; ``meta_code`` is Meta's error code when Meta refused it."""
        error = {"field": field, "message": message}
        return cls([error | {"meta_code": meta_code}] if meta_code is not None else [error])


class NumberTaken(Exception):
    """Another shop has this phone number connected."""


CONNECT_FIELDS = ("waba_id", "phone_number_id", "access_token")


@dataclass(frozen=True)
class ConnectRequest:
    waba_id: str
    phone_number_id: str
    access_token: str

    @classmethod
    def stored(cls, shop: Shop) -> ConnectRequest:
        """The connection the shop holds, to check again."""
        token = decrypt_token(shop.meta_access_token_ciphertext)
        return cls(shop.meta_waba_id, shop.meta_phone_number_id, token)


def parse_fields(body: object, fields: tuple[str, ...] = CONNECT_FIELDS) -> dict[str, str]:
    """The named string fields of a JSON body; raises ConnectionRefused naming every bad one."""
    if not isinstance(body, dict):
        raise ConnectionRefused.on("body", "Send a JSON object.")
    values, errors = {}, []
    for name in fields:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            errors.append({"field": name, "message": "Required, as a string."})
        elif name.endswith("_id") and not _GRAPH_ID.match(value.strip()):
            errors.append(
                {"field": name, "message": "Must be Meta's numeric id, as WhatsApp Manager shows it."}
            )
        elif len(value) > MAX_TOKEN_LENGTH:
            errors.append({"field": name, "message": f"Longer than {MAX_TOKEN_LENGTH} characters."})
        else:
            values[name] = value.strip()
    if errors:
        raise ConnectionRefused(errors)
    return values


@dataclass(frozen=True)
class MetaFacts:
    number: PhoneNumber
    webhooks_subscribed: bool
    pin: str | None = None  # the two-step verification PIN this check registered the number with
    # Webhook fields the Meta app is not subscribed to (None: not known, no app configured or
    # Meta would not say): without them halts, template pauses or limits never reach the app.
    missing_fields: tuple[str, ...] | None = None
    # The currency Meta bills the account in, which picks the rate card (core/outcomes/pricing.py);
    # None when Meta would not say this time (the one stored before is kept).
    currency: str | None = None

    @property
    def messages_per_second(self) -> int:
        """Meta's cap for the number, before any cap the shop set for itself."""
        if self.number.is_on_biz_app:
            return COEXISTENCE_MPS
        return THROUGHPUT_MPS.get(self.number.throughput_level or "", DEFAULT_MPS)


def capped(meta_cap: int, own_cap: int | None) -> int:
    """The rate to send at: Meta's cap, lowered by the shop's own cap when it set one. A check
    with Meta (the 6-hourly one included) never raises the shop's cap."""
    return min(meta_cap, own_cap) if own_cap else meta_cap


def _asked(field: str, call: Callable[[], T], prefix: str = "") -> T:
    """Run one Graph call; Meta's refusal becomes a 422 error naming the field it concerns
    (the token when Meta refused the token itself) and carrying Meta's own message."""
    try:
        return call()
    except GraphRefused as refusal:
        name = "access_token" if refusal.about_token else field
        raise ConnectionRefused.on(name, prefix + refusal.message, refusal.code) from None


def check_with_meta(request: ConnectRequest, app_id: str | None, register: bool = False) -> MetaFacts:
    """Ask Meta everything a connection needs, subscribe our app to the account's webhooks, then,
    when ``register`` and Meta says the number is not on the Cloud API yet, register it.
    Raises ConnectionRefused (Meta said no) or GraphUnreachable (Meta could not be asked)."""
    token = request.access_token
    number = _asked("phone_number_id", lambda: graph.phone_number(request.phone_number_id, token))
    numbers = _asked("waba_id", lambda: graph.account_phone_number_ids(request.waba_id, token))
    if request.phone_number_id not in numbers:
        message = (
            f"Meta lists no phone number {request.phone_number_id} "
            f"in WhatsApp Business Account {request.waba_id}."
        )
        raise ConnectionRefused.on("phone_number_id", message)
    _asked(
        "access_token",
        lambda: graph.read_templates(request.waba_id, token),
        "The token cannot read the message templates: ",
    )
    _asked(
        "waba_id",
        lambda: graph.subscribe_app(request.waba_id, token),
        "The webhook subscription was refused: ",
    )
    subscribed = True
    if app_id:  # confirm that the subscription Meta took is our app's
        subscribed = app_id in _asked("waba_id", lambda: graph.subscribed_app_ids(request.waba_id, token))
    pin = None
    # Registration comes last: once Meta has taken the PIN, nothing after it may fail and lose it.
    if register and number.needs_registration:
        pin = _registered(request, number)
        # What Meta says of the number now that it is on the Cloud API; should that read fail,
        # the facts read before registering do until the next check.
        with suppress(GraphRefused, GraphUnreachable):
            number = graph.phone_number(request.phone_number_id, token)
    return MetaFacts(number, subscribed, pin, _missing_fields(app_id), _currency(request))


def _currency(request: ConnectRequest) -> str | None:
    """The account's billing currency; None when Meta would not say (not a refusal: the
    connection works without it, and the cost says it assumed one)."""
    try:
        return graph.account_currency(request.waba_id, request.access_token)
    except (GraphRefused, GraphUnreachable):
        return None


def _registered(request: ConnectRequest, number: PhoneNumber) -> str:
    """Register the number with a new PIN and answer it; Meta's refusal in words."""
    try:
        return registration.register_with_new_pin(request.phone_number_id, request.access_token)
    except GraphRefused as refusal:
        field = "access_token" if refusal.about_token else "phone_number_id"
        words = registration.refusal_words(refusal, number)
        raise ConnectionRefused.on(field, words, refusal.code) from None


def _missing_fields(app_id: str | None) -> tuple[str, ...] | None:
    """The required webhook fields our Meta app lacks; None when that cannot be known. Not a
    refusal: the merchant cannot fix it, the app's owner can, in the Meta app's settings."""
    if not app_id:
        return None
    try:
        subscribed = graph.app_webhook_fields(app_id, get_settings().meta_app_secret)
    except (GraphRefused, GraphUnreachable):
        return None
    return tuple(field for field in SUBSCRIBED_FIELDS if field not in subscribed)


def number_taken(session: Session, shop_id: int, phone_number_id: str) -> bool:
    """Whether another installed shop has this number connected."""
    other = session.scalar(
        select(Shop.id).where(Shop.meta_phone_number_id == phone_number_id, Shop.id != shop_id)
    )
    return other is not None


def store_connection(session: Session, shop_id: int, request: ConnectRequest, facts: MetaFacts) -> None:
    """Store what Meta confirmed, in the caller's transaction; NumberTaken if another shop
    connected the number meanwhile (the unique key decides)."""
    shop = session.get(Shop, shop_id, with_for_update=True)
    shop.meta_phone_number_id = request.phone_number_id
    shop.meta_waba_id = request.waba_id
    shop.meta_access_token_ciphertext = encrypt_token(request.access_token)
    shop.messages_per_second = capped(facts.messages_per_second, shop.send_cap_per_second)
    try:
        with session.begin_nested():  # a savepoint: the caller's transaction stays the caller's to end
            session.flush()
    except IntegrityError:
        raise NumberTaken() from None
    _upsert_row(session, shop_id, request, facts)


def _upsert_row(session: Session, shop_id: int, request: ConnectRequest, facts: MetaFacts) -> None:
    now = datetime.now(UTC)
    number = facts.number
    values = {
        "waba_id": request.waba_id,
        "phone_number_id": request.phone_number_id,
        "display_phone_number": number.display_phone_number,
        "verified_name": number.verified_name,
        "quality_rating": number.quality_rating,
        "messaging_limit_tier": number.messaging_limit_tier,
        "throughput_level": number.throughput_level,
        "name_status": number.name_status,
        "number_status": number.status,
        "on_business_app": number.is_on_biz_app,
        "messages_per_second": facts.messages_per_second,
        "webhooks_subscribed": facts.webhooks_subscribed,
        "webhook_fields_missing": list(facts.missing_fields) if facts.missing_fields is not None else None,
        "checked_at": now,
        "disconnected_at": None,
        "currency": facts.currency,
    }
    registered = {}
    if facts.pin:
        registered = {"two_step_pin_ciphertext": encrypt_token(facts.pin), "registered_at": now}
    statement = insert(WhatsAppConnection).values(shop_id=shop_id, connected_at=now, **values, **registered)
    # Re-checking the same number keeps when it was connected and the last webhook seen.
    same_number = WhatsAppConnection.phone_number_id == request.phone_number_id
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[WhatsAppConnection.shop_id],
            set_={
                **values,
                "connected_at": _keep_if(same_number, WhatsAppConnection.connected_at, now),
                "last_webhook_at": _keep_if(same_number, WhatsAppConnection.last_webhook_at, None),
                # The PIN belongs to its number: kept on a check of the same one, never carried over.
                "two_step_pin_ciphertext": _keep_if(
                    same_number, WhatsAppConnection.two_step_pin_ciphertext, None
                ),
                "registered_at": _keep_if(same_number, WhatsAppConnection.registered_at, None),
                # A check that could not read the currency keeps the one read before.
                "currency": func.coalesce(statement.excluded.currency, WhatsAppConnection.currency),
                **registered,
            },
        )
    )


def _keep_if(condition, column, otherwise):
    return case((condition, column), else_=literal(otherwise, column.type))
