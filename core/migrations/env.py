"""Alembic environment: the URL comes from the settings (DATABASE_URL), never from a file."""

from alembic import context

from core.db import get_engine
from core.models import Base

config = context.config


def run_migrations() -> None:
    url = config.attributes.get("database_url")
    engine = get_engine(url)
    with engine.connect() as connection:
        # Building an index on a large table may take longer than any request may; LOCAL, so
        # the pooled connection gets its own timeout back when the migration commits.
        connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
        # On Citus, a new table with a foreign key to shops (a reference table) would become a
        # "Citus local" table, which core/ops/citus.py cannot distribute after the upgrade; off,
        # it stays a plain table until then. (A placeholder setting on a PostgreSQL without Citus.)
        connection.exec_driver_sql("SET LOCAL citus.enable_local_reference_table_foreign_keys = off")
        context.configure(connection=connection, target_metadata=Base.metadata, compare_server_default=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
