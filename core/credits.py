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
gives it back when it failed, expired, was never confirmed, or was delivered free. It is one
statement, so it reads the messages and the ledger in one snapshot: dispatch writes its
reservations and the messages they pay for in one transaction, so the two always agree there.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

GRANT, RESERVE, RETURN = "grant", "reserve", "return"

# Billed: delivered, and Meta's pricing says so (a message without pricing yet counts as billed:
# Meta bills every delivered marketing or utility template outside free windows).
BILLED_SQL = (
    "m.delivered_at IS NOT NULL AND COALESCE(m.pricing_billable, true)"
    " AND COALESCE(m.pricing_type, 'regular') = 'regular'"
)

_MOVE = text("""
    WITH moved AS (
        INSERT INTO credit_movements (shop_id, kind, amount, campaign_id, note)
        VALUES (:shop_id, :kind, :amount, :campaign_id, :note)
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
        SELECT COALESCE(sum(amount), 0) AS n, count(*) FILTER (WHERE kind = 'reserve') AS reservations
          FROM credit_movements WHERE shop_id = :shop_id AND campaign_id = :campaign_id
    ), moved AS (
        INSERT INTO credit_movements (shop_id, kind, amount, campaign_id, note)
        SELECT :shop_id, CASE WHEN -held.n - net.n > 0 THEN 'return' ELSE 'charge' END,
               -held.n - net.n, :campaign_id, 'settlement: billed and in-flight messages keep theirs'
          FROM held, net
         WHERE net.reservations > 0 AND -held.n - net.n <> 0
        RETURNING amount
    )
    UPDATE shops SET credits = credits + (SELECT amount FROM moved)
     WHERE id = :shop_id AND EXISTS (SELECT 1 FROM moved)
    RETURNING (SELECT amount FROM moved)
""")


def move_credits(
    session: Session, shop_id: int, kind: str, amount: int, campaign_id: int | None = None, note: str = ""
) -> None:
    """Add ``amount`` (negative: take) to the balance, with its ledger row."""
    if amount:
        session.execute(
            _MOVE,
            {"shop_id": shop_id, "kind": kind, "amount": amount, "campaign_id": campaign_id, "note": note},
        )


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
    changed = session.execute(_SETTLE, {"shop_id": shop_id, "campaign_id": campaign_id}).scalar()
    return int(changed or 0)
