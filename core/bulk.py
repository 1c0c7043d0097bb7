"""Bulk writes through PostgreSQL's ``COPY``: rows of any number, in the caller's transaction.

A multi-row ``INSERT`` binds one parameter per cell and PostgreSQL refuses more than 65,535 of
them, so a document with tens of thousands of rows cannot go in one statement; thousands of
small statements cost a round trip each. ``COPY`` streams the rows into a temporary staging
table instead, and one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` moves them to their
table: the conflict rules (idempotence by natural keys) stay where they were, in SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session


def driver_connection(session: Session):
    """The psycopg connection under the session's current transaction."""
    return session.connection().connection.driver_connection


@contextmanager
def staged(
    session: Session, name: str, columns: Sequence[tuple[str, str]], rows: Iterable[Sequence]
) -> Iterator[str]:
    """Copy ``rows`` into a temporary table ``name`` with ``columns`` (name, SQL type), yield
    its name, and drop it afterwards (a document may stage the same name once per shop).

    The column types are also given to ``COPY``, so values are written by their SQL type
    (arrays, timestamps with zone) rather than guessed from their Python type."""
    definition = ", ".join(f"{column} {kind}" for column, kind in columns)
    session.execute(text(f"CREATE TEMPORARY TABLE {name} ({definition}) ON COMMIT DROP"))
    names = ", ".join(column for column, _ in columns)
    statement = f"COPY {name} ({names}) FROM STDIN"
    with driver_connection(session).cursor() as cursor, cursor.copy(statement) as copy:
        copy.set_types([kind for _, kind in columns])
        for row in rows:
            copy.write_row(row)
    try:
        yield name
    finally:
        session.execute(text(f"DROP TABLE IF EXISTS {name}"))
