"""The failure breakdown of each campaign, kept rather than grouped on every read.

A message counts when its status is failed or expired: under its error code (an expiry without
one counts as ``MESSAGE_EXPIRED``), and as accepted or not by whether Meta gave it a wamid (one
without never left the shop: a pre-send check, a halt, a refused send). The counts live in
``campaign_failure_counts``, one row per (campaign, code, accepted), and every writer that moves
a message into or out of that state, changes its code or records its wamid adds its old-to-new
change in its own transaction: the drain (core/meta_webhooks/apply_statuses.py), dispatch
(core/dispatch/claim.py, record.py, halt.py) and expiry (core/campaigns/monitor.py). The rows are written
after the writer has locked the campaign row, in key order: the lock order of core/counts/recount.py,
whose recount rebuilds them from the messages (``recount_failures``) and corrects any drift.

The page reads a handful of rows per campaign, whatever its size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

from core.counts.kept_rows import MessageCounts, rebuild
from core.rules.failure_codes import OurCode
from core.rules.statuses import FAILED_STATUSES

_FAILED = ", ".join(f"'{status}'" for status in FAILED_STATUSES)


def failure_code_sql(alias: str = "m") -> str:
    """SQL for the code a message counts under, NULL while it is not failed or expired."""
    return (
        f"CASE WHEN {alias}.status IN ({_FAILED})"
        f" THEN COALESCE({alias}.error_code, '{OurCode.MESSAGE_EXPIRED}') END"
    )


def entered_sql(alias: str = "m") -> str:
    """A RETURNING list of each row's campaign, failure code (failure_code_sql), whether it
    has a wamid and its variant: what FailureChanges.entered() and VariantChanges.failed()
    (core/counts/variants.py) read, and dispatch's accept moves."""
    code = failure_code_sql(alias)
    return (
        f"{alias}.campaign_id, {code} AS failure_code, {alias}.wamid IS NOT NULL AS accepted,"
        f" {alias}.variant_id"
    )


class FailureKey(NamedTuple):
    code: str
    accepted: bool  # Meta gave the message a wamid

    @classmethod
    def of(cls, code: str | None, accepted: bool) -> FailureKey | None:
        """The key of a message whose failure_code_sql() is ``code`` (None: it does not count)."""
        return None if code is None else cls(code, accepted)


_ADD = text("""
    INSERT INTO campaign_failure_counts AS f (shop_id, campaign_id, code, accepted, messages)
    SELECT * FROM unnest(CAST(:shop_ids AS bigint[]), CAST(:campaign_ids AS bigint[]),
                         CAST(:codes AS text[]), CAST(:accepted AS boolean[]), CAST(:messages AS bigint[]))
        ON CONFLICT (shop_id, campaign_id, code, accepted) DO UPDATE
       SET messages = f.messages + excluded.messages
""")


class FailureChanges(MessageCounts):
    """Messages entering and leaving the breakdown in one transaction, summed per row."""

    UPSERT = _ADD
    PARAMS = ("shop_ids", "campaign_ids", "codes", "accepted", "messages")

    def entered(self, shop_id: int, rows: Iterable) -> None:
        """Messages a statement moved into failed or expired from a status outside them (its
        WHERE says so), as returned by entered_sql()."""
        for row in rows:
            self.add(shop_id, row.campaign_id, FailureKey.of(row.failure_code, row.accepted), 1)


_READ = text("""
    SELECT campaign_id, code, sum(messages)::bigint AS messages,  -- sum(bigint) is numeric
           sum(messages) FILTER (WHERE accepted)::bigint AS accepted
      FROM campaign_failure_counts
     WHERE shop_id = :shop_id AND campaign_id = ANY(:campaign_ids) AND messages <> 0
     GROUP BY campaign_id, code
     ORDER BY campaign_id, messages DESC, code
""")


class FailureCount(NamedTuple):
    code: str
    messages: int
    accepted: int  # of them, given a wamid by Meta


def failure_counts(
    session: Session, shop_id: int, campaign_ids: Sequence[int]
) -> dict[int, list[FailureCount]]:
    """Each campaign's failed and expired messages per code, largest first."""
    found: dict[int, list[FailureCount]] = defaultdict(list)
    for row in session.execute(_READ, {"shop_id": shop_id, "campaign_ids": list(campaign_ids)}):
        found[row.campaign_id].append(FailureCount(row.code, row.messages, row.accepted or 0))
    return found


_TALLY = text(f"""
    SELECT m.campaign_id, {failure_code_sql("m")} AS code, m.wamid IS NOT NULL AS accepted,
           count(*) AS messages
      FROM messages m
     WHERE m.shop_id = :shop_id AND m.campaign_id = ANY(:campaign_ids) AND m.status IN ({_FAILED})
     GROUP BY 1, 2, 3
""")
_STORED = text("""
    SELECT campaign_id, code, accepted, messages FROM campaign_failure_counts
     WHERE shop_id = :shop_id AND campaign_id = ANY(:campaign_ids) AND messages <> 0
""")
_FORGET = text(
    "DELETE FROM campaign_failure_counts WHERE shop_id = :shop_id AND campaign_id = ANY(:campaign_ids)"
)


def recount_failures(session: Session, shop_id: int, campaign_ids: Sequence[int]) -> list[int]:
    """Rebuild the breakdown of these campaigns from their messages (the caller holds their
    campaign rows locked, as core/counts/recount.py does); answer the campaigns that had drifted."""
    return rebuild(
        session, shop_id, campaign_ids, FailureChanges, tally=_TALLY, stored=_STORED, forget=_FORGET
    )
