"""The shop's credits: one per message, reserved at send, kept only for what Meta bills.

Every change of ``shops.credits`` is also a row of ``credit_movements`` in the same
transaction, so the balance always equals the sum of the ledger:

- ``grant``: credits added (the seed, a top-up);
- ``reserve``: dispatch claims a batch (core/dispatch/claim.py), one credit per message;
- ``return``: a send Meta refused or that never left (core/dispatch/record.py), and the
  settlement below;
- ``charge``: the settlement taking back a credit it had returned (a message delivered after
  it had expired).

Settlement (``settle_credits``, run by MonitorCampaignJob) makes a campaign's net movements
equal minus the credits its messages hold: a message handed to Meta holds one while it is in
flight, keeps it once delivered and billed (pricing ``billable`` and type ``regular``), and
gives it back when it failed, expired, was never confirmed, or was delivered free. One
statement reads the messages and the ledger, in one snapshot: dispatch writes its reservations
and the messages they pay for in one transaction, so the two always agree there.

That statement counts the credits held with a pass over every message of the campaign (about
165 ms on a million), and MonitorCampaignJob runs every few seconds to every hour for weeks: a
quiet campaign would pay it each time for nothing. ``settle_credits_when_moved`` settles again
only when an input of the held count has moved: the kept counters of sent, delivered, failed,
submitted and failed-before-send messages (changed in the same transactions as the messages,
with the reservations and returns), and the campaign's billed messages (core/counts/billed.py). It
remembers what it settled in Redis, after the commit, for at most RESETTLE_AFTER_S: whatever
the counters say, a campaign is settled afresh at least that often, and without Redis every run
settles.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from core.models import Campaign
from core.redis import get_redis

log = logging.getLogger(__name__)

GRANT, RESERVE, RETURN, CHARGE = "grant", "reserve", "return", "charge"
RESETTLE_AFTER_S = 3600
_SETTLED_KEY = "credits:settled:{shop_id}:{campaign_id}"
_PENDING = "credits_settled"  # Session.info: what this transaction settled, remembered on commit

# Billed: delivered, and Meta's pricing says so (a message without pricing yet counts as billed:
# Meta bills every delivered marketing or utility template outside free windows).
BILLED_SQL = (
    "m.delivered_at IS NOT NULL AND COALESCE(m.pricing_billable, true)"
    " AND COALESCE(m.pricing_type, 'regular') = 'regular'"
)

# The balance lives on shops (a reference table on Citus) and the ledger beside the shop's other
# rows (distributed): each statement touches one of them, so on Citus each runs as one task.
_ADD_TO_BALANCE = text("UPDATE shops SET credits = credits + :amount WHERE id = :shop_id")

_SETTLE = text(f"""
    WITH held AS (
        SELECT count(*) AS n FROM messages m
         WHERE m.shop_id = :shop_id AND m.campaign_id = :campaign_id
           AND (m.submitted_at IS NOT NULL OR m.wamid IS NOT NULL)
           AND (({BILLED_SQL})
                OR (m.delivered_at IS NULL AND m.status NOT IN ('failed', 'expired')))
    ), net AS (
        SELECT COALESCE(sum(amount), 0) AS n, count(*) FILTER (WHERE kind = 'reserve') AS reservations
          FROM credit_movements WHERE shop_id = :shop_id AND campaign_id = :campaign_id
    )
    SELECT held.n AS held, net.n AS net, net.reservations FROM held, net
""")
SETTLEMENT_NOTE = "settlement: billed and in-flight messages keep theirs"


def move_credits(
    session: Session, shop_id: int, kind: str, amount: int, campaign_id: int | None = None, note: str = ""
) -> None:
    """Add ``amount`` (negative: take) to the balance, with its ledger row."""
    if amount:
        record_movement(session, shop_id, kind, amount, campaign_id, note)
        session.execute(_ADD_TO_BALANCE, {"shop_id": shop_id, "amount": amount})


def record_movement(
    session: Session, shop_id: int, kind: str, amount: int, campaign_id: int | None = None, note: str = ""
) -> None:
    """Write the ledger row of a balance change the caller has already made."""
    if amount:
        session.execute(
            text(
                "INSERT INTO credit_movements (shop_id, kind, amount, campaign_id, note)"
                " VALUES (:shop_id, :kind, :amount, :campaign_id, :note)"
            ),
            {"shop_id": shop_id, "kind": kind, "amount": amount, "campaign_id": campaign_id, "note": note},
        )


def settle_credits(session: Session, shop_id: int, campaign_id: int) -> int:
    """Return to the balance what the campaign's messages no longer hold (or take back what
    they hold again); answer the change. Campaigns we never reserved for are left alone."""
    counts = session.execute(_SETTLE, {"shop_id": shop_id, "campaign_id": campaign_id}).one()
    change = int(-counts.held - counts.net)  # sum(bigint) is numeric
    if not counts.reservations or not change:
        return 0
    move_credits(session, shop_id, RETURN if change > 0 else CHARGE, change, campaign_id, SETTLEMENT_NOTE)
    return change


_BILLED_TOTAL = text("""
    SELECT COALESCE(sum(messages), 0) FROM campaign_billed_counts
     WHERE shop_id = :shop_id AND campaign_id = :campaign_id
""")


def settle_credits_when_moved(session: Session, campaign: Campaign) -> int:
    """Settle the campaign unless nothing the held count reads has moved since it was last
    settled (the module's docstring); answer the change. ``campaign`` must be fresh: its
    counters are read before the settlement, so a change committed in between makes the next
    run settle again rather than be missed."""
    keys = {"shop_id": campaign.shop_id, "campaign_id": campaign.id}
    inputs = ":".join(
        str(n)
        for n in (
            campaign.messages_count,
            campaign.sent_count,
            campaign.delivered_count,
            campaign.failed_count,
            campaign.submitted_count,
            campaign.failed_before_send_count,
            session.execute(_BILLED_TOTAL, keys).scalar_one(),
        )
    )
    key = _SETTLED_KEY.format(**keys)
    try:
        if get_redis().get(key) == inputs.encode():
            return 0
    except RedisError as error:
        log.warning("settling campaign %s without the memo of its last settlement: %s", campaign.id, error)
    changed = settle_credits(session, campaign.shop_id, campaign.id)
    session.info.setdefault(_PENDING, {})[key] = inputs
    return changed


@event.listens_for(Session, "after_commit")
def _remember_settlements(session: Session) -> None:
    for key, inputs in session.info.pop(_PENDING, {}).items():
        try:
            get_redis().set(key, inputs, ex=RESETTLE_AFTER_S)
        except RedisError:
            return  # not remembered: the next run settles again


@event.listens_for(Session, "after_rollback")
def _forget_settlements(session: Session) -> None:
    session.info.pop(_PENDING, None)
