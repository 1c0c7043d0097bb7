"""trust: erasure by phone number, retention of Meta's applied bodies, fulfilled data requests

Revision ID: 0009_trust
Revises: 0012_scale

A deleted customer's tombstone keeps SHA-256 digests of their phone digits, so that a later
redaction finds the messages the deletion detached (core/shopify/erasure.py). The sweeper empties Meta
bodies applied more than a day ago: a partial index holds exactly those still to empty. A
customer data request is marked fulfilled when the merchant has handed the data over.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0009_trust'
down_revision = '0012_scale'
branch_labels = None
depends_on = None

META_BODIES_WHERE = "source = 'meta' AND octet_length(body) > 0"


def upgrade() -> None:
    op.add_column(
        'customer_tombstones',
        sa.Column('phone_digests', postgresql.ARRAY(sa.LargeBinary()), nullable=True),
    )
    op.add_column(
        'customer_data_requests', sa.Column('fulfilled_at', sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        'ix_inbox_events_meta_bodies', 'inbox_events', ['processed_at'], unique=False,
        postgresql_where=sa.text(META_BODIES_WHERE),
    )


def downgrade() -> None:
    op.drop_index('ix_inbox_events_meta_bodies', table_name='inbox_events')
    op.drop_column('customer_data_requests', 'fulfilled_at')
    op.drop_column('customer_tombstones', 'phone_digests')
