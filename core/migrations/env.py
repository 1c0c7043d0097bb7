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
        context.configure(connection=connection, target_metadata=Base.metadata, compare_server_default=True)
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations()
