"""parked statuses by time: the inbox sweeper's recent parks and the expiry of old ones

Revision ID: 0002_webhooks
Revises: 0005_shopify
Create Date: 2026-11-27 06:25:00.000000
"""

from alembic import op

revision = '0002_webhooks'
down_revision = '0005_shopify'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(op.f('ix_parked_statuses_parked_at'), 'parked_statuses', ['parked_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_parked_statuses_parked_at'), table_name='parked_statuses')
