"""The billed messages of each campaign, kept per day, calling code and pricing category.

What a campaign cost (core/reports/outcomes.py) is its billed messages (core/outcomes/credits.py BILLED_SQL:
delivered, and billable by Meta's pricing) priced by the rate card in force on the day they were
sent, grouped by that UTC day, the recipient's calling code (the first three digits of the number
we sent to) and the pricing category Meta reported (the campaign's template category until a
status carried one). Grouping a million messages on every cold read took a second, so the
groups are kept in ``campaign_billed_counts`` with the day, the number's prefix ('' once it is
erased) and Meta's category ('' while Meta has not said), and the message's variant in an A/B
campaign (0 without variants; a message never changes variant), whose read-out prices each
variant's cost from them (core/reports/variants.py).

The day is the UTC day of ``sent_at`` (Meta's "sent" status), or of ``delivered_at`` when no
"sent" status came: the card in force when a message was sent prices it, and a
message is sent once, whereas a delivery can come days later (a phone switched off) and be
reported out of order. Meta bills at delivery and its pricing_analytics counts by that time, so
a message sent just before midnight UTC and delivered after it is on the next day there.

The drain moves a message between groups in the transaction that delivers it or fills
its pricing (core/meta_webhooks/apply_statuses.py); erasing a number (core/shopify/erasure.py,
core/shopify/customers.py) moves it to the '' prefix. Rows are written after the campaign rows
are locked, in key order (core/counts/recount.py's lock order), and the recount rebuilds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.counts.kept_rows import MessageCounts, rebuild
from core.outcomes.credits import BILLED_SQL

# BILLED_SQL reads the message as ``m``: every statement that uses these names it so.
PREFIX_SQL = f"CASE WHEN {BILLED_SQL} THEN COALESCE(substring(m.phone from 2 for 3), '') END"
CATEGORY_SQL = "COALESCE(m.pricing_category, '')"
VARIANT_SQL = "COALESCE(m.variant_id, 0)"
DAY_SQL = "(COALESCE(m.sent_at, m.delivered_at) AT TIME ZONE 'UTC')::date"


def billed_sql(prefix: str) -> str:
    """The message's group as ``{prefix}billed_day``, ``{prefix}billed_prefix`` (NULL when it
    is not billed), ``{prefix}billed_category`` and ``{prefix}billed_variant``."""
    return (
        f"{DAY_SQL} AS {prefix}billed_day, {PREFIX_SQL} AS {prefix}billed_prefix,"
        f" {CATEGORY_SQL} AS {prefix}billed_category, {VARIANT_SQL} AS {prefix}billed_variant"
    )


class BilledGroup(NamedTuple):
    variant: int  # 0 without variants
    day: date
    prefix: str
    category: str

    @classmethod
    def of(cls, variant: int, day: date | None, prefix: str | None, category: str) -> BilledGroup | None:
        return None if prefix is None or day is None else cls(variant, day, prefix, category)


_ADD = text("""
    INSERT INTO campaign_billed_counts AS b
           (shop_id, campaign_id, variant_id, day, prefix, pricing_category, messages)
    SELECT * FROM unnest(CAST(:shop_ids AS bigint[]), CAST(:campaign_ids AS bigint[]),
                         CAST(:variant_ids AS smallint[]), CAST(:days AS date[]),
                         CAST(:prefixes AS text[]), CAST(:categories AS text[]), CAST(:messages AS bigint[]))
        ON CONFLICT (shop_id, campaign_id, variant_id, day, prefix, pricing_category) DO UPDATE
       SET messages = b.messages + excluded.messages
""")


class BilledChanges(MessageCounts):
    """Messages entering and leaving the billed groups in one transaction, summed per group."""

    UPSERT = _ADD
    PARAMS = ("shop_ids", "campaign_ids", "variant_ids", "days", "prefixes", "categories", "messages")
    KEY_WIDTH = 4


# core/reports/outcomes.py's groups: the template's category stands in until Meta said one.
BILLED_GROUPS = text("""
    SELECT b.campaign_id, b.day, b.prefix,
           lower(COALESCE(NULLIF(b.pricing_category, ''), k.template_category)) AS category,
           sum(b.messages)::bigint AS n  -- sum(bigint) is numeric
      FROM campaign_billed_counts b
      JOIN campaigns k ON k.shop_id = b.shop_id AND k.id = b.campaign_id
     WHERE b.shop_id = :shop_id AND b.campaign_id = ANY(CAST(:campaign_ids AS bigint[])) AND b.messages <> 0
     GROUP BY 1, 2, 3, 4
""")

_ERASED = text(f"""
    SELECT m.campaign_id, {billed_sql("")} FROM messages m
     WHERE m.shop_id = :shop_id AND m.id = ANY(CAST(:ids AS bigint[]))
""")


def erasing(session: Session, shop_id: int, message_ids: Sequence[int]) -> BilledChanges:
    """Before the numbers of these messages (locked by the caller) are erased: their move to
    the '' prefix, to apply once the erasure is written and the campaigns are locked."""
    changes = BilledChanges()
    for row in session.execute(_ERASED, {"shop_id": shop_id, "ids": list(message_ids)}):
        old = BilledGroup.of(row.billed_variant, row.billed_day, row.billed_prefix, row.billed_category)
        if old is not None:
            changes.moved(shop_id, row.campaign_id, old, old._replace(prefix=""))
    return changes


_LOCK_CAMPAIGNS = text("""
    SELECT id FROM campaigns WHERE shop_id = :shop_id AND id = ANY(CAST(:campaign_ids AS bigint[]))
     ORDER BY id FOR UPDATE
""")


def apply_after_locking(session: Session, shop_id: int, changes: BilledChanges) -> None:
    """Lock the campaigns ``changes`` touch in key order, then apply them: for writers that do
    not otherwise touch the campaign rows (erasure)."""
    campaign_ids = changes.campaign_ids()
    if campaign_ids:
        session.execute(_LOCK_CAMPAIGNS, {"shop_id": shop_id, "campaign_ids": campaign_ids})
        changes.apply(session)


_TALLY = text(f"""
    SELECT m.campaign_id, {VARIANT_SQL} AS variant, {DAY_SQL} AS day, {PREFIX_SQL} AS prefix,
           {CATEGORY_SQL} AS category, count(*) AS messages
      FROM messages m
     WHERE m.shop_id = :shop_id AND m.campaign_id = ANY(:campaign_ids) AND {BILLED_SQL}
     GROUP BY 1, 2, 3, 4, 5
""")
_STORED = text("""
    SELECT campaign_id, variant_id, day, prefix, pricing_category AS category, messages
      FROM campaign_billed_counts
     WHERE shop_id = :shop_id AND campaign_id = ANY(:campaign_ids) AND messages <> 0
""")
_FORGET = text(
    "DELETE FROM campaign_billed_counts WHERE shop_id = :shop_id AND campaign_id = ANY(:campaign_ids)"
)


def recount_billed(session: Session, shop_id: int, campaign_ids: Sequence[int]) -> list[int]:
    """Rebuild the groups of these campaigns from their messages (the caller holds their
    campaign rows locked, as core/counts/recount.py does); answer the campaigns that had drifted."""
    return rebuild(
        session, shop_id, campaign_ids, BilledChanges, tally=_TALLY, stored=_STORED, forget=_FORGET
    )
