"""Release a shop's WhatsApp number (the merchant disconnected it, or uninstalled the app), then
unsubscribe our app from the number's WhatsApp Business Account and forget the Meta token.

Releasing is immediate and local, in the caller's transaction: the number, its account and the
token leave the shop's row, so nothing can send from it any more and another shop may connect
it; the connection row is stamped disconnected (and made if a seed document connected the
number without one), so late statuses of messages already sent still find the shop.

Unsubscribing is a Graph call, so it comes after, with no transaction open (a job:
jobs/whatsapp.py): ``DELETE /{waba-id}/subscribed_apps`` with the released token, and only then
is the token forgotten. Until that call is made the token waits, encrypted, in
``whatsapp_connections.release_token_ciphertext``; when Meta cannot be reached it stays for the
next try (a periodic job retries). Our subscription belongs to the app and the account, not to
one number: while a connected shop uses the same account, the app stays subscribed and the
token is only forgotten.

For ``shop/redact``: erasing the shop deletes its connection row, token included, so call
``release_number`` (in a transaction of its own) and then ``unsubscribe_released`` before the
shop's rows are erased.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.crypto import decrypt_token
from core.db import session_scope
from core.models import Shop, WhatsAppConnection
from core.whatsapp import graph
from core.whatsapp.graph import GraphRefused, GraphUnreachable

log = logging.getLogger(__name__)


def release_number(session: Session, shop_id: int) -> bool:
    """Take the number, account and token off the shop (in the caller's transaction), keeping the
    token only for ``unsubscribe_released``. True when there is a token to unsubscribe with."""
    shop = session.get(Shop, shop_id, with_for_update=True)
    if shop is None:
        return False
    number, waba_id, token = shop.meta_phone_number_id, shop.meta_waba_id, shop.meta_access_token_ciphertext
    shop.meta_phone_number_id = shop.meta_waba_id = shop.meta_access_token_ciphertext = None
    row = session.get(WhatsAppConnection, shop_id)
    if row is None and number is None:
        return False  # never connected
    if row is None:
        row = WhatsAppConnection(
            shop_id=shop_id,
            waba_id=waba_id or "",
            phone_number_id=number,
            messages_per_second=shop.messages_per_second,
        )
        session.add(row)
    if number is not None:  # statuses of the number just released route here (core/meta_webhooks/routing.py)
        row.phone_number_id, row.waba_id = number, waba_id or row.waba_id
    row.disconnected_at = row.disconnected_at or datetime.now(UTC)
    if token is not None and waba_id:
        row.release_token_ciphertext = token
    session.flush()
    return row.release_token_ciphertext is not None


def released_shop_ids() -> list[int]:
    """Every shop whose released token still waits to unsubscribe our app (for the periodic retry)."""
    with session_scope() as session:
        return list(
            session.scalars(
                select(WhatsAppConnection.shop_id).where(
                    WhatsAppConnection.release_token_ciphertext.is_not(None)
                )
            )
        )


@dataclass
class Unsubscribed:
    outcome: str  # nothing, unsubscribed, shared (the account is still in use), refused, unreachable
    recheck: list[int] = field(default_factory=list)  # shops that connected the account meanwhile


def unsubscribe_released(shop_id: int) -> Unsubscribed:
    """Unsubscribe our app from the released account, then forget the token. Opens its own short
    transactions, none of them around the Graph call."""
    with session_scope() as session:
        row = session.get(WhatsAppConnection, shop_id)
        if row is None or row.release_token_ciphertext is None:
            return Unsubscribed("nothing")
        waba_id, ciphertext = row.waba_id, row.release_token_ciphertext
        shared = bool(_shops_using(session, waba_id))
    outcome = "shared" if shared else _unsubscribe(waba_id, ciphertext)
    if outcome == "unreachable":
        return Unsubscribed(outcome)  # the token stays for the next try
    with session_scope() as session:
        _forget(session, shop_id, ciphertext)
        # A shop that connected this account while our DELETE was on its way may have lost the
        # subscription its connect made: its periodic check subscribes again.
        recheck = [] if shared else _shops_using(session, waba_id)
    return Unsubscribed(outcome, recheck)


def _unsubscribe(waba_id: str, ciphertext: bytes) -> str:
    try:
        graph.unsubscribe_app(waba_id, decrypt_token(ciphertext))
    except GraphUnreachable:
        return "unreachable"
    except GraphRefused as refusal:
        # Not subscribed any more, or the merchant revoked the token: nothing more we can do
        # with it, so it is forgotten all the same.
        log.warning("unsubscribing from WABA %s refused by Meta (%s)", waba_id, refusal.code)
        return "refused"
    return "unsubscribed"


def _shops_using(session: Session, waba_id: str) -> list[int]:
    """Connected shops whose number is in this WhatsApp Business Account."""
    return list(session.scalars(select(Shop.id).where(Shop.meta_waba_id == waba_id)))


def _forget(session: Session, shop_id: int, ciphertext: bytes) -> None:
    """Forget the token just used; a later release of another token keeps its own."""
    session.execute(
        update(WhatsAppConnection)
        .where(
            WhatsAppConnection.shop_id == shop_id,
            WhatsAppConnection.release_token_ciphertext == ciphertext,
        )
        .values(release_token_ciphertext=None, two_step_pin_ciphertext=None, webhooks_subscribed=False)
    )
