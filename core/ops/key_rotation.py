"""Re-encrypt every stored token with the first Fernet key, so an old key can be retired.

Every encrypted column is named ``*_ciphertext`` (shops' Shopify and Meta tokens, and any table
added later that keeps one), so the rotation finds them all from the models' metadata.
"""

from __future__ import annotations

from sqlalchemy import Table, select, update
from sqlalchemy.orm import Session

from core.crypto import reencrypt
from core.models import Base

SUFFIX = "_ciphertext"


def encrypted_columns() -> dict[Table, list[str]]:
    """Each table that stores ciphertext, with its ``*_ciphertext`` columns."""
    found = {}
    for table in Base.metadata.sorted_tables:
        names = [c.name for c in table.columns if c.name.endswith(SUFFIX)]
        if names:
            found[table] = names
    return found


def rotate_keys(session: Session) -> int:
    """Re-encrypt every stored token with the first key, row by row under a lock; answer how
    many tokens were re-encrypted."""
    rotated = 0
    for table, names in encrypted_columns().items():
        key = list(table.primary_key.columns)
        rows = session.execute(select(*key, *(table.c[n] for n in names)).with_for_update()).all()
        for row in rows:
            values = {n: reencrypt(getattr(row, n)) for n in names if getattr(row, n) is not None}
            if values:
                condition = [column == getattr(row, column.name) for column in key]
                session.execute(update(table).where(*condition).values(values))
                rotated += len(values)
    return rotated
