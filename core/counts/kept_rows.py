"""What the tables kept beside a campaign's counters have in common: the failure breakdown
(core/counts/failures.py), the billed groups (core/counts/billed.py) and the timing buckets
(core/counts/timings.py).

Each is a set of rows keyed by (shop, campaign, ...) holding counts. A writer sums its changes per
row in memory and adds them in one statement, in key order, after it has locked the campaign
rows (core/counts/recount.py's lock order); the recount rebuilds a campaign's rows from its messages
when they differ.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import TextClause
from sqlalchemy.orm import Session


def array_params(names: Sequence[str], rows: Iterable[tuple]) -> dict[str, list]:
    """Rows as one list per column, named for a statement that ``unnest``s array parameters."""
    columns = list(zip(*rows, strict=True)) or [()] * len(names)
    return {name: list(values) for name, values in zip(names, columns, strict=True)}


class RowChanges:
    """Changes to a kept table in one transaction, summed per row. A subclass names its
    ``UPSERT`` (adding each row's values, one array parameter per column, named ``PARAMS``)."""

    UPSERT: TextClause
    PARAMS: tuple[str, ...]
    KEY_WIDTH = 2  # of the row key after (shop_id, campaign_id)

    def __init__(self) -> None:
        width = len(self.PARAMS) - 2 - self.KEY_WIDTH
        self._by_row: dict[tuple, list[int]] = defaultdict(lambda: [0] * width)

    def add_to_row(self, key: tuple, *values: int) -> None:
        totals = self._by_row[key]
        for i, value in enumerate(values):
            totals[i] += value

    def campaign_ids(self) -> list[int]:
        return sorted({key[1] for key in self._by_row})

    def apply(self, session: Session) -> None:
        """Add the changes to the rows, in key order (the caller holds the campaign rows)."""
        moved = [key + tuple(values) for key, values in sorted(self._by_row.items()) if any(values)]
        if moved:
            session.execute(self.UPSERT, array_params(self.PARAMS, moved))
        self._by_row.clear()


class MessageCounts(RowChanges):
    """Rows that count messages under a key (a named tuple of the row key's columns, after
    shop_id and campaign_id): each message is under one key or none (None)."""

    def add(self, shop_id: int, campaign_id: int, key: tuple | None, messages: int) -> None:
        if key is not None and messages:
            self.add_to_row((shop_id, campaign_id, *key), messages)

    def moved(self, shop_id: int, campaign_id: int, old: tuple | None, new: tuple | None) -> None:
        """One message went from under ``old`` to under ``new``."""
        if old != new:
            self.add(shop_id, campaign_id, old, -1)
            self.add(shop_id, campaign_id, new, 1)


def rebuild(
    session: Session,
    shop_id: int,
    campaign_ids: Sequence[int],
    changes: type[RowChanges],
    *,
    tally: TextClause,
    stored: TextClause,
    forget: TextClause,
) -> list[int]:
    """Rebuild the kept rows of these campaigns from their messages when they differ (the caller
    holds the campaign rows locked); answer the campaigns that had drifted. ``tally`` and
    ``stored`` select the row key after shop_id, then the values, in ``changes.PARAMS`` order."""
    params = {"shop_id": shop_id, "campaign_ids": list(campaign_ids)}
    cut = 1 + changes.KEY_WIDTH
    fresh = {tuple(r[:cut]): tuple(r[cut:]) for r in session.execute(tally, params)}
    kept = {tuple(r[:cut]): tuple(r[cut:]) for r in session.execute(stored, params)}
    drifted = sorted({key[0] for key in fresh.keys() | kept.keys() if fresh.get(key) != kept.get(key)})
    if drifted:
        session.execute(forget, {"shop_id": shop_id, "campaign_ids": drifted})
        rows = [(shop_id, *key, *values) for key, values in sorted(fresh.items()) if key[0] in drifted]
        if rows:
            session.execute(changes.UPSERT, array_params(changes.PARAMS, rows))
    return drifted
