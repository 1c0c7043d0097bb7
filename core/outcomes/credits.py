"""The shop's credits: one per message, reserved at send, kept only for what Meta bills.

Every change of ``shops.credits`` is also a row of ``credit_movements`` in the same
transaction, so the balance always equals the sum of the ledger:

- ``grant``: credits added (the seed, a credit pack bought through Shopify: the movement names
  its ``purchase_id``, unique per purchase, so a purchase is paid out once; core/outcomes/purchases.py);
- ``reserve``: dispatch claims a batch (core/dispatch/claim.py), one credit per message;
- ``return``: a send Meta refused or that never left (core/dispatch/record.py), and the
  settlement below;
- ``charge``: the settlement taking back a credit it had returned (a message delivered after
  it had expired);
- ``shortfall``: only from migration 0015, which brought balances that had gone below zero
  back to zero.

The balance never goes below zero (``shops`` checks it too). Dispatch reserves only what is
left; a send Meta refused and a settlement's return give back. The one movement that takes
what was not reserved is the settlement's ``charge``, when a message whose credit came back
turns out billed after all (delivered after it expired, or after it failed): by then the
balance may have gone to another campaign. The charge takes what the balance has, and what it
could not take is the movement's ``shortfall``: owed, recorded, not taken. The settlement
counts a campaign's shortfall as paid, so it never charges it again, and when the campaign
later has a credit to give back (a message in flight failed), that credit pays the shortfall
before anything returns to the balance. A grant never pays a shortfall: the merchant bought
credits to send with, not to settle a late delivery.

Settlement (``settle_credits``, run by MonitorCampaignJob) makes a campaign's net movements,
less its shortfall, equal minus the credits its messages hold: a message handed to Meta holds
one while it is in flight, keeps it once delivered and billed (pricing ``billable`` and type
``regular``), and gives it back when it failed, expired, was never confirmed, or was
delivered free. One statement reads the messages and the ledger, in one snapshot: dispatch
writes its reservations and the messages they pay for in one transaction, so the two always
agree there. When something is due, the balance is locked and the two read again under the lock
(every change of the balance takes that lock), then the movement is written: on Citus the
balance lives on ``shops`` (a reference table) and the ledger beside the shop's other rows
(distributed), so each statement touches one of them (docs/scaling.md).

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

SHORT = "settlement: billed after its credit came back, with no credit left to take; recorded as a shortfall"
COVERED = "settlement: a credit the campaign had paid covers its shortfall"
SETTLEMENT_NOTE = "settlement: billed and in-flight messages keep theirs"

# The balance lives on shops (a reference table on Citus) and the ledger beside the shop's other rows
# (distributed): each statement touches one of them, so on Citus each runs as one task.
_ADD_TO_BALANCE = text("UPDATE shops SET credits = credits + :amount WHERE id = :shop_id")
_LOCK_BALANCE = text("SELECT GREATEST(credits, 0) FROM shops WHERE id = :shop_id FOR UPDATE")
_INSERT_MOVEMENT = text("""
    INSERT INTO credit_movements (shop_id, kind, amount, shortfall, campaign_id, purchase_id, note)
    VALUES (:shop_id, :kind, :amount, :shortfall, :campaign_id, :purchase_id, :note)
""")

_SETTLE = text(f"""
    WITH held AS (
        SELECT count(*) AS n FROM messages m
         WHERE m.shop_id = :shop_id AND m.campaign_id = :campaign_id
           AND (m.submitted_at IS NOT NULL OR m.wamid IS NOT NULL)
           AND (({BILLED_SQL})
                OR (m.delivered_at IS NULL AND m.status NOT IN ('failed', 'expired')))
    ), net AS (
        -- what the campaign paid, counting its shortfall (owed, not taken) as paid
        SELECT COALESCE(sum(amount), 0) - COALESCE(sum(shortfall), 0) AS n,
               COALESCE(sum(shortfall), 0) AS shortfall,
               count(*) FILTER (WHERE kind = 'reserve') AS reservations
          FROM credit_movements WHERE shop_id = :shop_id AND campaign_id = :campaign_id
    )
    SELECT held.n AS held, net.n AS net, net.shortfall, net.reservations FROM held, net
""")


def move_credits(
    session: Session,
    shop_id: int,
    kind: str,
    amount: int,
    campaign_id: int | None = None,
    note: str = "",
    *,
    purchase_id: int | None = None,
) -> None:
    """Add ``amount`` (negative: take) to the balance, with its ledger row."""
    if amount:
        _insert_movement(session, shop_id, kind, amount, campaign_id, note, purchase_id=purchase_id)
        session.execute(_ADD_TO_BALANCE, {"shop_id": shop_id, "amount": amount})


def record_movement(
    session: Session, shop_id: int, kind: str, amount: int, campaign_id: int | None = None, note: str = ""
) -> None:
    """Write the ledger row of a balance change the caller has already made."""
    if amount:
        _insert_movement(session, shop_id, kind, amount, campaign_id, note)


def _insert_movement(
    session: Session,
    shop_id: int,
    kind: str,
    amount: int,
    campaign_id: int | None,
    note: str,
    *,
    shortfall: int = 0,
    purchase_id: int | None = None,
) -> None:
    params = {"shop_id": shop_id, "kind": kind, "amount": amount, "shortfall": shortfall}
    params |= {"campaign_id": campaign_id, "purchase_id": purchase_id, "note": note}
    session.execute(_INSERT_MOVEMENT, params)


def settle_credits(session: Session, shop_id: int, campaign_id: int) -> int:
    """Return to the balance what the campaign's messages no longer hold (or take back what
    they hold again); answer the change. Campaigns we never reserved for are left alone."""
    keys = {"shop_id": shop_id, "campaign_id": campaign_id}
    if not _due(session.execute(_SETTLE, keys).one()):
        return 0
    # Something is due: lock the balance (as every change of it does), then read again under it.
    balance = session.execute(_LOCK_BALANCE, {"shop_id": shop_id}).scalar_one()
    counts = session.execute(_SETTLE, keys).one()
    due = _due(counts)
    if not due:
        return 0
    shortfall_owed = int(counts.shortfall)  # sum(bigint) is numeric
    if due > 0:  # to give back, first to the campaign's shortfall
        covered = min(due, shortfall_owed)
        kind, amount, shortfall = RETURN, due - covered, -covered
    else:  # to take, as far as the balance goes; the rest is owed
        taken = min(-due, balance)
        kind, amount, shortfall = CHARGE, -taken, -due - taken
    note = SHORT if shortfall > 0 else COVERED if shortfall < 0 else SETTLEMENT_NOTE
    _insert_movement(session, shop_id, kind, amount, campaign_id, note, shortfall=shortfall)
    if amount:
        session.execute(_ADD_TO_BALANCE, {"shop_id": shop_id, "amount": amount})
    return amount


def _due(counts) -> int:
    """Positive: credits to give back; negative: to take; 0 for a campaign never reserved for."""
    if not counts.reservations:
        return 0
    return int(-counts.held - counts.net)  # sum(bigint) is numeric


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
