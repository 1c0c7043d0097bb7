"""recent failures: an index of each campaign's failures newest first, so the circuit breaker's
read of a campaign's last failures (core/meta_webhooks/halt.py) takes a few index entries instead
of sorting every failure of a large campaign on each batch that carries a counted code

Revision ID: 0030_recent_failures
Revises: 0029_variant_counts
"""

from alembic import op
import sqlalchemy as sa

revision = '0030_recent_failures'
down_revision = '0029_variant_counts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_messages_recent_failures',
        'messages',
        ['shop_id', 'campaign_id', sa.text('failed_at DESC NULLS LAST'), sa.text('id DESC')],
        unique=False,
        postgresql_where="error_code IS NOT NULL AND status IN ('failed', 'expired')",
    )


def downgrade() -> None:
    op.drop_index('ix_messages_recent_failures', table_name='messages')
