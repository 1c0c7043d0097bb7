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
delivered free. It is one statement, so it reads the messages and the ledger in one snapshot:
dispatch writes its reservations and the messages they pay for in one transaction, so the two
always agree there.

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

GRANT, RESERVE, RETURN = "grant", "reserve", "return"
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

_MOVE = text("""
    WITH moved AS (
        INSERT INTO credit_movements (shop_id, kind, amount, campaign_id, purchase_id, note)
        VALUES (:shop_id, :kind, :amount, :campaign_id, :purchase_id, :note)
        RETURNING amount
    )
    UPDATE shops SET credits = credits + (SELECT amount FROM moved) WHERE id = :shop_id
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
    ), balance AS (
        SELECT GREATEST(credits, 0) AS n FROM shops WHERE id = :shop_id FOR UPDATE
    ), due AS (  -- positive: to give back, first to the campaign's shortfall; negative: to take
        SELECT -held.n - net.n AS n, net.shortfall, balance.n AS balance
          FROM held, net, balance
         WHERE net.reservations > 0 AND -held.n - net.n <> 0
    ), movement AS (
        SELECT CASE WHEN n > 0 THEN 'return' ELSE 'charge' END AS kind,
               CASE WHEN n > 0 THEN n - LEAST(n, shortfall) ELSE -LEAST(-n, balance) END AS amount,
               CASE WHEN n > 0 THEN -LEAST(n, shortfall) ELSE -n - LEAST(-n, balance) END AS shortfall
          FROM due
    ), moved AS (
        INSERT INTO credit_movements (shop_id, kind, amount, shortfall, campaign_id, note)
        SELECT :shop_id, kind, amount, shortfall, :campaign_id,
               CASE WHEN shortfall > 0 THEN :short_note
                    WHEN shortfall < 0 THEN :covered_note
                    ELSE 'settlement: billed and in-flight messages keep theirs' END
          FROM movement
        RETURNING amount
    )
    UPDATE shops SET credits = credits + (SELECT amount FROM moved)
     WHERE id = :shop_id AND EXISTS (SELECT 1 FROM moved)
    RETURNING (SELECT amount FROM moved)
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
        params = {"shop_id": shop_id, "kind": kind, "amount": amount, "campaign_id": campaign_id}
        session.execute(_MOVE, params | {"purchase_id": purchase_id, "note": note})


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
    params = {"shop_id": shop_id, "campaign_id": campaign_id, "short_note": SHORT, "covered_note": COVERED}
    changed = session.execute(_SETTLE, params).scalar()
    return int(changed or 0)


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
