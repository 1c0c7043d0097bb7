"""The message status ratchet: one rank per status, and a status only ever moves up.

Meta delivers status webhooks late, twice, concurrently and out of order, so the order of
arrival says nothing. The rank does: an event moves a message only to a higher rank, and each
stage keeps the first time it was seen. Why this order:

- ``failed`` ranks below ``delivered`` and ``read``: a user with several devices can produce a
  failure on one and a delivery on another; positive evidence from a device wins, and the first
  error is kept for the record.
- ``failed`` ranks above ``sent``: a late ``sent`` must never pull a message out of ``failed``.
- ``read`` implies delivered: when the user is inside the chat Meta skips ``delivered``.
- ``expired`` (no delivery within the TTL) is our own verdict, not Meta's: any later
  ``failed``, ``delivered`` or ``read`` still upgrades it, while a late ``sent`` does not.
"""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    QUEUED = "queued"
    ACCEPTED = "accepted"
    HELD = "held"
    SENT = "sent"
    EXPIRED = "expired"
    FAILED = "failed"
    DELIVERED = "delivered"
    READ = "read"


RANK: dict[str, int] = {
    MessageStatus.QUEUED: 0,
    MessageStatus.ACCEPTED: 10,
    MessageStatus.HELD: 20,
    MessageStatus.SENT: 30,
    MessageStatus.EXPIRED: 35,
    MessageStatus.FAILED: 40,
    MessageStatus.DELIVERED: 50,
    MessageStatus.READ: 60,
}

# Meta's word for a voice message played; for a template it can only mean it was read.
META_STATUS_ALIASES = {"played": MessageStatus.READ}

FAILED_STATUSES = (MessageStatus.FAILED, MessageStatus.EXPIRED)


def rank_sql(column: str = "status") -> str:
    """The rank as a SQL CASE expression, for the generated ``status_rank`` column."""
    cases = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in RANK.items())
    return f"CASE {column} {cases} ELSE -1 END"
