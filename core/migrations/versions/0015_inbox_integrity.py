"""inbox integrity: a failed Shopify event waits for its next attempt instead of blocking the
drain

Revision ID: 0015_inbox_integrity
Revises: 0013_failure_counts

The Shopify drain counts each attempt before it applies an event, in a transaction of its own,
and gives the event a time before which it is not tried again (``retry_at``, later after each
failed attempt): an event whose transaction is lost (a statement timeout, a cut connection, a
killed worker) no longer comes back first in every claim (core/shopify/drain.py).
"""

from alembic import op
import sqlalchemy as sa

revision = '0015_inbox_integrity'
down_revision = '0013_failure_counts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('inbox_events', sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('inbox_events', 'retry_at')
