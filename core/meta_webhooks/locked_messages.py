"""Lock, in one ordered statement, every message a batch will touch.

All message rows of a batch (by wamid, by our message id for a status that beat the send
response, by the wamid a quick reply answers) are locked in (shop_id, id) order before anything
changes, so two drains, or a drain and the dispatcher, can never deadlock on messages; the values
read under the lock are the current ones, so each message's old-to-new change is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.meta_webhooks.counter_changes import Funnel

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
         WHERE m.wamid IS NULL
    )
    SELECT m.shop_id, m.id, m.campaign_id, m.wamid, m.status,
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

    def for_status(
        self, shop_id: int, wamid: str, message_id: int | None
    ) -> tuple[LockedMessage | None, bool]:
        """The message a status is about, and whether the status records its wamid: when the
        wamid is not known yet, ``biz_opaque_callback_data`` names our message id."""
        found = self.by_wamid.get((shop_id, wamid))
        if found is not None:
            return found, False
        by_id = self.by_id.get((shop_id, message_id)) if message_id is not None else None
        if by_id is None or by_id.wamid is not None:  # not ours, or already sent under another wamid
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
        locked.add(LockedMessage(row.shop_id, row.id, row.campaign_id, row.wamid, before))
    return locked
