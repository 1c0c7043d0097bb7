"""The two statements that fold reduced status rows (ratchet.py) into messages.

``apply_by_wamid`` is the path of nearly every status: one statement locks the messages in key
order (so concurrent drains cannot deadlock on them), reads their funnel flags under the lock,
applies the ratchet, and sums each campaign's old-to-new changes (counters, time buckets,
failure codes, billed groups), all in one round trip.

``apply_by_message_id`` takes the few statuses whose wamid is not recorded yet but whose
``biz_opaque_callback_data`` names our message: it records the wamid (counting the message as
sent, as whoever records a wamid does) and applies the ratchet, through locked_messages.py's lock.

Both take the rows of one shop and name it (``:shop``) beside the rows' own ``shop_id``: on
Citus a statement runs on one shard only when each table in it is tied to a constant shop.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from core.counts.billed import BilledGroup, billed_sql
from core.counts.failures import FailureKey, failure_code_sql
from core.counts.timings import KINDS, bucket_sql, duration_sql
from core.meta_webhooks.counter_changes import CounterChanges, Funnel
from core.meta_webhooks.locked_messages import LockedMessages
from core.meta_webhooks.ratchet import StatusRow
from core.meta_webhooks.status_sql import columns, groups_of, unnest_sql, update_sql
from core.rules.statuses import FAILED_STATUSES

_FAILED = ", ".join(f"'{status}'" for status in FAILED_STATUSES)


@functools.cache
def _by_wamid(groups: tuple[str, ...]) -> TextClause:
    sets, changes = update_sql(groups)
    return text(
        f"""
        WITH u AS (
            SELECT * FROM {unnest_sql((("idx", "int"), ("shop_id", "bigint"), ("wamid", "text")), groups)}
        ), old AS (
            SELECT u.idx, m.shop_id, m.id,
                   m.status IN ({_FAILED}) AS failed,
                   m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL AS delivered,
                   m.read_at IS NOT NULL AS read,
                   {failure_code_sql("m")} AS old_code, {billed_sql("old_")},
                   {_durations("m", "old_")}
              FROM u JOIN messages m ON m.shop_id = u.shop_id AND m.wamid = u.wamid
             WHERE m.shop_id = :shop
             ORDER BY m.shop_id, m.id
               FOR UPDATE OF m
        ), moved AS (
            UPDATE messages AS m SET {sets}
              FROM old o JOIN u ON u.idx = o.idx
             WHERE m.shop_id = :shop AND m.shop_id = o.shop_id AND m.id = o.id AND {changes}
            RETURNING m.shop_id, m.campaign_id, m.variant_id,
                      (m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL)::int - o.delivered::int
                          AS delivered,
                      (m.read_at IS NOT NULL)::int - o.read::int AS read,
                      (m.status IN ({_FAILED}))::int - o.failed::int AS failed,
                      o.old_code, {failure_code_sql("m")} AS new_code,
                      o.old_billed_day, o.old_billed_prefix, o.old_billed_category, {billed_sql("new_")},
                      o.old_deliver_ms, o.old_read_ms, {_durations("m", "new_")}
        ), timing AS (
            -- each moved message leaves its old buckets and enters its new ones
            SELECT t.shop_id, t.campaign_id, t.kind, {bucket_sql("t.ms")} AS bucket,
                   sum(t.n)::bigint AS n, sum(t.n * t.ms)::bigint AS ms  -- sum(bigint) is numeric
              FROM (SELECT shop_id, campaign_id, kind, ms, n FROM moved CROSS JOIN LATERAL (VALUES
                        ('deliver', old_deliver_ms, -1), ('deliver', new_deliver_ms, 1),
                        ('read', old_read_ms, -1), ('read', new_read_ms, 1)) AS v(kind, ms, n)
                     WHERE ms IS NOT NULL) AS t
             GROUP BY 1, 2, 3, 4
            HAVING sum(t.n) <> 0 OR sum(t.n * t.ms) <> 0
        ), failure AS (
            -- each moved message leaves its old failure code and enters its new one (a message
            -- found by its wamid counts as accepted by Meta, before and after)
            SELECT f.shop_id, f.campaign_id, f.code, sum(f.n)::bigint AS n
              FROM (SELECT shop_id, campaign_id, code, n FROM moved CROSS JOIN LATERAL (VALUES
                        (old_code, -1), (new_code, 1)) AS v(code, n)
                     WHERE code IS NOT NULL) AS f
             GROUP BY 1, 2, 3
            HAVING sum(f.n) <> 0
        ), billed AS (
            -- and leaves its old billed group for its new one (core/counts/billed.py)
            -- (a message never changes variant)
            SELECT b.shop_id, b.campaign_id, b.variant, b.day, b.prefix, b.category, sum(b.n)::bigint AS n
              FROM (SELECT shop_id, campaign_id, new_billed_variant AS variant, day, prefix, category, n
                      FROM moved CROSS JOIN LATERAL (VALUES
                        (old_billed_day, old_billed_prefix, old_billed_category, -1),
                        (new_billed_day, new_billed_prefix, new_billed_category, 1))
                        AS v(day, prefix, category, n)
                     WHERE prefix IS NOT NULL) AS b
             GROUP BY 1, 2, 3, 4, 5, 6
            HAVING sum(b.n) <> 0
        )
        SELECT shop_id, campaign_id, variant_id, sum(delivered) AS delivered, sum(read) AS read,
               sum(failed) AS failed, NULL::int AS unmatched, NULL AS kind, NULL::int AS bucket,
               NULL::bigint AS n, NULL::bigint AS ms, NULL AS code, NULL::date AS day, NULL AS prefix,
               NULL AS category
          FROM moved GROUP BY shop_id, campaign_id, variant_id
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, NULL, NULL, u.idx, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
          FROM u WHERE NOT EXISTS (SELECT 1 FROM old WHERE old.idx = u.idx)
        UNION ALL
        SELECT shop_id, campaign_id, NULL, NULL, NULL, NULL, NULL, kind, bucket, n, ms, NULL, NULL, NULL, NULL
          FROM timing
        UNION ALL
        SELECT shop_id, campaign_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, n, NULL, code, NULL, NULL, NULL
          FROM failure
        UNION ALL
        SELECT shop_id, campaign_id, variant, NULL, NULL, NULL, NULL, NULL, NULL, n, NULL, NULL, day, prefix,
               category
          FROM billed
        """
    )


@functools.cache
def _by_id(groups: tuple[str, ...]) -> TextClause:
    sets, changes = update_sql(groups, {"wamid": "COALESCE(m.wamid, u.wamid)"})
    keys = (("shop_id", "bigint"), ("id", "bigint"), ("wamid", "text"))
    return text(
        f"""
        WITH u AS (
            SELECT * FROM {unnest_sql(keys, groups)}
        ), o AS (  -- the messages as they were (locked_messages.py holds their locks)
            SELECT m.shop_id, m.id, {failure_code_sql("m")} AS old_code, m.wamid IS NOT NULL AS old_accepted,
                   {billed_sql("old_")},
                   {_durations("m", "old_")}
              FROM u JOIN messages m ON m.shop_id = u.shop_id AND m.id = u.id
             WHERE m.shop_id = :shop
        )
        UPDATE messages AS m SET {sets}
          FROM u JOIN o ON o.shop_id = u.shop_id AND o.id = u.id
         WHERE m.shop_id = :shop AND m.shop_id = u.shop_id AND m.id = u.id
           AND (m.wamid IS NULL OR m.wamid = u.wamid) AND {changes}
        RETURNING m.shop_id, m.id, m.campaign_id, m.variant_id, m.wamid, m.status,
                  m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL AS delivered,
                  m.read_at IS NOT NULL AS read,
                  o.old_code, o.old_accepted, {failure_code_sql("m")} AS new_code,
                  o.old_billed_day, o.old_billed_prefix, o.old_billed_category, {billed_sql("new_")},
                  o.old_deliver_ms, o.old_read_ms, {_durations("m", "new_")}
        """
    )


def _durations(alias: str, prefix: str) -> str:
    """The message's times to deliver and to read in ms, as ``{prefix}deliver_ms`` and
    ``{prefix}read_ms`` (NULL when it does not count: core/counts/timings.py)."""
    return ", ".join(
        duration_sql(kind, status=f"{alias}.status", sent_at=f"{alias}.sent_at", stage_at=f"{alias}.{stage}")
        + f" AS {prefix}{kind}_ms"
        for kind, stage in KINDS.items()
    )


@dataclass
class Applied:
    events: int = 0  # status events that found their message
    unmatched: list[StatusRow] = field(default_factory=list)


def apply_by_wamid(session: Session, shop_id: int, rows: list[StatusRow], changes: CounterChanges) -> Applied:
    """Apply rows (all of ``shop_id``) to the messages carrying their wamid; return the rows
    that found none."""
    result = Applied()
    if not rows:
        return result
    groups = groups_of(rows)
    params = columns(rows, groups)
    params["idx"] = list(range(len(rows)))
    params["shop_id"] = [row.shop_id for row in rows]
    params["shop"] = shop_id
    unmatched = set()
    for line in session.execute(_by_wamid(groups), params):
        if line.unmatched is not None:
            unmatched.add(line.unmatched)
        elif line.kind is not None:
            changes.timings.add(line.shop_id, line.campaign_id, line.kind, line.bucket, line.n, line.ms)
        elif line.code is not None:
            changes.failures.add(line.shop_id, line.campaign_id, FailureKey(line.code, True), line.n)
        elif line.prefix is not None:
            group = BilledGroup(line.variant_id, line.day, line.prefix, line.category)
            changes.billed.add(line.shop_id, line.campaign_id, group, line.n)
        else:
            changes.add(
                line.shop_id, line.campaign_id, line.variant_id, line.delivered, line.read, line.failed
            )
    for i, row in enumerate(rows):
        if i in unmatched:
            result.unmatched.append(row)
        else:
            result.events += len(row.events)
    return result


def apply_by_message_id(
    session: Session, shop_id: int, rows: list[StatusRow], locked: LockedMessages, changes: CounterChanges
) -> Applied:
    """Apply rows whose wamid no message carries to the message their biz_opaque_callback_data
    names, when that message was handed to Meta, has no wamid yet and was sent to the row's
    recipient (locked beforehand by locked_messages.lock_messages, which checks all three)."""
    result, matched = Applied(), []
    for row in rows:
        message, _records_wamid = locked.for_status(row)
        if message is None:
            result.unmatched.append(row)
            continue
        matched.append((message.id, row))
        result.events += len(row.events)
    if not matched:
        return result
    rows = [row for _, row in matched]
    groups = groups_of(rows)
    params = columns(rows, groups)
    params["shop_id"] = [row.shop_id for row in rows]
    params["shop"] = shop_id
    params["id"] = [message_id for message_id, _ in matched]
    for moved in session.execute(_by_id(groups), params):
        before = locked.by_id[(moved.shop_id, moved.id)].before
        after = Funnel.of(wamid=moved.wamid, status=moved.status, delivered=moved.delivered, read=moved.read)
        changes.message_moved(moved.shop_id, moved.campaign_id, before, after, moved.variant_id)
        old_failure = FailureKey.of(moved.old_code, moved.old_accepted)
        new_failure = FailureKey.of(moved.new_code, moved.wamid is not None)
        changes.failures.moved(moved.shop_id, moved.campaign_id, old_failure, new_failure)
        old_billed = BilledGroup.of(
            moved.new_billed_variant, moved.old_billed_day, moved.old_billed_prefix, moved.old_billed_category
        )
        new_billed = BilledGroup.of(
            moved.new_billed_variant, moved.new_billed_day, moved.new_billed_prefix, moved.new_billed_category
        )
        changes.billed.moved(moved.shop_id, moved.campaign_id, old_billed, new_billed)
        for kind in KINDS:
            old_ms, new_ms = getattr(moved, f"old_{kind}_ms"), getattr(moved, f"new_{kind}_ms")
            changes.timings.moved(moved.shop_id, moved.campaign_id, kind, old_ms, new_ms)
    return result
