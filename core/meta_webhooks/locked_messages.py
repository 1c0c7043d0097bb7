"""Lock, in one ordered statement, every message a batch will touch.

All message rows of a batch (by wamid, by our message id for a status that beat the send
response, by the wamid a quick reply answers) are locked in (shop_id, id) order before anything
changes, so two drains, or a drain and the dispatcher, can never deadlock on messages; the values
read under the lock are the current ones, so each message's old-to-new change is exact.

A status binds by the message id its callback data names (signed: core/whatsapp/callback.py)
only when everything else agrees too: the message was handed to Meta (``submitted_at``; a
message still queued cannot have a status), it has no wamid yet (a message sent under another
wamid is not this status's), and Meta's recipient is the number we sent to (``phone``, or the
``wa_id`` Meta answered; core/rules/phones.py). A status that names no number must name the
recipient by business-scoped user id instead: a username user whose number Meta withholds
(reference/whatsapp.md 1.4), with nothing of ours to compare it with, so there the signed
callback alone vouches. A status naming no recipient at all waits, parked, for its wamid.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.meta_webhooks.counter_changes import Funnel
from core.meta_webhooks.ratchet import StatusRow
from core.rules.phones import same_whatsapp_number

# Every messages reference names the shop: on Citus, a statement with FOR UPDATE runs only when
# it is tied to one shard.
_LOCK = text(
    """
    WITH wanted AS (
        SELECT * FROM unnest(CAST(:wamids AS text[]), CAST(:message_ids AS bigint[])) AS w(wamid, message_id)
    ), found AS (
        SELECT m.id FROM wanted w JOIN messages m ON m.shop_id = :shop_id AND m.wamid = w.wamid
        UNION
        SELECT m.id FROM wanted w JOIN messages m ON m.shop_id = :shop_id AND m.id = w.message_id
         WHERE m.wamid IS NULL AND m.submitted_at IS NOT NULL
    )
    SELECT m.shop_id, m.id, m.campaign_id, m.variant_id, m.wamid, m.status, m.phone, m.wa_id,
           m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL AS delivered, m.read_at IS NOT NULL AS read
      FROM messages m JOIN found f ON m.id = f.id
     WHERE m.shop_id = :shop_id
     ORDER BY m.id
       FOR UPDATE OF m
    """
)


@dataclass(slots=True)
class LockedMessage:
    shop_id: int
    id: int
    campaign_id: int
    wamid: str | None  # as locked; set here too when a status binds it, so one wamid binds once
    before: Funnel
    sent_to: tuple[str, ...] = ()  # the number we sent to, and Meta's wa_id for it when known
    variant_id: int | None = None  # an A/B campaign's variant (core/counts/variants.py)

    def may_be_sent_to(self, recipients: set[str], user_id: object) -> bool:
        """Whether every number Meta named is the one we sent to; naming none, whether Meta
        named the recipient by business-scoped user id instead (the module's docstring)."""
        if not recipients:
            return user_id is not None
        return all(
            any(same_whatsapp_number(number, recipient) for number in self.sent_to)
            for recipient in recipients
        )


class LockedMessages:
    def __init__(self) -> None:
        self.by_wamid: dict[tuple[int, str], LockedMessage] = {}
        self.by_id: dict[tuple[int, int], LockedMessage] = {}

    def add(self, message: LockedMessage) -> None:
        self.by_id[(message.shop_id, message.id)] = message
        if message.wamid is not None:
            self.by_wamid[(message.shop_id, message.wamid)] = message

    def for_wamid(self, shop_id: int, wamid: str) -> LockedMessage | None:
        return self.by_wamid.get((shop_id, wamid))

    def for_status(self, row: StatusRow) -> tuple[LockedMessage | None, bool]:
        """The message a status is about, and whether the status records its wamid: when the
        wamid is not known yet, ``biz_opaque_callback_data`` names our message id (the module's
        docstring says when that is believed)."""
        shop_id, wamid = row.shop_id, row.wamid
        found = self.by_wamid.get((shop_id, wamid))
        if found is not None:
            return found, False
        by_id = self.by_id.get((shop_id, row.message_id)) if row.message_id is not None else None
        if by_id is None or by_id.wamid is not None:  # not handed to Meta, or sent under another wamid
            return None, False
        if not by_id.may_be_sent_to(row.recipients, row.filled.get("recipient_user_id")):
            return None, False
        by_id.wamid = wamid
        self.by_wamid[(shop_id, wamid)] = by_id
        return by_id, True


def lock_messages(session: Session, shop_id: int, wanted: list[tuple[str, int | None]]) -> LockedMessages:
    """Lock the messages of ``shop_id`` named by ``(wamid, our message id or None)``."""
    locked = LockedMessages()
    if not wanted:
        return locked
    rows = session.execute(
        _LOCK,
        {"shop_id": shop_id, "wamids": [w[0] for w in wanted], "message_ids": [w[1] for w in wanted]},
    )
    for row in rows:
        before = Funnel.of(wamid=row.wamid, status=row.status, delivered=row.delivered, read=row.read)
        sent_to = tuple(number for number in (row.phone, row.wa_id) if number)
        locked.add(
            LockedMessage(row.shop_id, row.id, row.campaign_id, row.wamid, before, sent_to, row.variant_id)
        )
    return locked
