"""The SQL that folds a batch's status rows (ratchet.py) into messages: one
``UPDATE ... FROM unnest(...)`` whose SET list compares each column with what is stored, so the
rules of ratchet.py hold whatever order the events came in. Used by apply_statuses.py.
"""

from __future__ import annotations

from core.meta_webhooks.ratchet import FILLED_ONCE, StatusRow
from core.rules.failure_codes import category_of

# The batch's failure is earlier than the stored one (a tie keeps the stored one).
_FIRST_ERROR = "u.failed_at IS NOT NULL AND (m.failed_at IS NULL OR u.failed_at < m.failed_at)"

ERROR_COLUMNS = ("error_code", "error_category", "error_title", "error_details", "error_href", "error_source")
# Each group: the batch's columns it ships (name, type) and what it sets (column, expression).
# A batch ships only the groups it needs: most hold no failure and no pricing, and the error
# comparisons cost more than the rest of the statement.
GROUPS = {
    "stages": (
        (
            ("rank", "int"),
            ("status", "text"),
            ("sent_at", "timestamptz"),
            ("delivered_at", "timestamptz"),
            ("read_at", "timestamptz"),
            ("failed_at", "timestamptz"),
        ),
        {
            "status": "CASE WHEN u.rank > m.status_rank THEN u.status ELSE m.status END",
            "sent_at": "LEAST(m.sent_at, u.sent_at)",
            "delivered_at": "LEAST(m.delivered_at, u.delivered_at)",
            "read_at": "LEAST(m.read_at, u.read_at)",
            "failed_at": "LEAST(m.failed_at, u.failed_at)",
        },
    ),
    "errors": (
        tuple((column, "text") for column in ERROR_COLUMNS),
        {column: f"CASE WHEN {_FIRST_ERROR} THEN u.{column} ELSE m.{column} END" for column in ERROR_COLUMNS},
    ),
    "filled": (
        tuple((column, "boolean" if column == "pricing_billable" else "text") for column in FILLED_ONCE),
        {column: f"COALESCE(m.{column}, u.{column})" for column in FILLED_ONCE},
    ),
}


def groups_of(rows: list[StatusRow]) -> tuple[str, ...]:
    """The column groups this batch needs."""
    needed = ["stages"]
    if any(row.error is not None for row in rows):
        needed.append("errors")
    if any(row.filled for row in rows):
        needed.append("filled")
    return tuple(needed)


def update_sql(groups: tuple[str, ...], extra: dict[str, str] | None = None) -> tuple[str, str]:
    """The SET list, and the condition that the row changes (rows that would not are not
    written: a duplicate costs a read, not a write)."""
    values = dict(extra or {})
    for group in groups:
        values.update(GROUPS[group][1])
    current = ", ".join(f"m.{column}" for column in values)
    sets = ", ".join(f"{column} = {expression}" for column, expression in values.items())
    return sets, f"({current}) IS DISTINCT FROM ({', '.join(values.values())})"


def unnest_sql(keys: tuple[tuple[str, str], ...], groups: tuple[str, ...]) -> str:
    """``unnest(CAST(:a AS t[]), ...) AS u(a, ...)`` over ``keys`` and the groups' columns."""
    columns = keys + tuple(column for group in groups for column in GROUPS[group][0])
    casts = ", ".join(f"CAST(:{name} AS {kind}[])" for name, kind in columns)
    return f"unnest({casts}) AS u({', '.join(name for name, _ in columns)})"


def columns(rows: list[StatusRow], groups: tuple[str, ...]) -> dict[str, list]:
    """The groups' columns of the batch, as parallel lists for unnest_sql()."""
    out: dict[str, list] = {
        "wamid": [row.wamid for row in rows],
        "rank": [row.rank for row in rows],
        "status": [row.status for row in rows],
        "sent_at": [row.sent_at for row in rows],
        "delivered_at": [row.delivered_at for row in rows],
        "read_at": [row.read_at for row in rows],
        "failed_at": [row.failed_at for row in rows],  # the time of the kept error: the earliest failure
    }
    if "errors" in groups:
        errors = [row.error if row.failed_at is not None else None for row in rows]
        out["error_code"] = [e.code if e else None for e in errors]
        out["error_category"] = [str(category_of(e.code)) if e and e.code else None for e in errors]
        out["error_title"] = [e.title if e else None for e in errors]
        out["error_details"] = [e.details if e else None for e in errors]
        out["error_href"] = [e.href if e else None for e in errors]
        out["error_source"] = ["meta" if row.failed_at is not None else None for row in rows]
    if "filled" in groups:
        for name in FILLED_ONCE:
            out[name] = [row.filled.get(name) for row in rows]
    return out
