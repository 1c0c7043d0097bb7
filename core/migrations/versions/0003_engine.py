"""campaign engine: template parameters, dispatch progress, send bookkeeping

Revision ID: 0003_engine
Revises: 0002_webhooks
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003_engine'
down_revision = '0002_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaigns', sa.Column('template_parameters', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False))
    op.add_column('campaigns', sa.Column('submitted_count', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
    op.add_column('campaigns', sa.Column('failed_before_send_count', sa.BigInteger(), server_default=sa.text('0'), nullable=False))
    op.add_column('messages', sa.Column('country_code', sa.String(length=2), nullable=True))
    op.add_column('messages', sa.Column('wa_id', sa.String(length=32), nullable=True))
    op.add_column('messages', sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('messages', sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_messages_dispatch_queue', 'messages', ['shop_id', 'campaign_id', 'id'], unique=False, postgresql_where="status = 'queued' AND submitted_at IS NULL")
    op.create_index('ix_messages_unconfirmed', 'messages', ['shop_id', 'campaign_id', 'submitted_at'], unique=False, postgresql_where="status = 'queued' AND submitted_at IS NOT NULL AND wamid IS NULL")


def downgrade() -> None:
    op.drop_index('ix_messages_unconfirmed', table_name='messages', postgresql_where="status = 'queued' AND submitted_at IS NOT NULL AND wamid IS NULL")
    op.drop_index('ix_messages_dispatch_queue', table_name='messages', postgresql_where="status = 'queued' AND submitted_at IS NULL")
    op.drop_column('messages', 'retry_at')
    op.drop_column('messages', 'submitted_at')
    op.drop_column('messages', 'wa_id')
    op.drop_column('messages', 'country_code')
    op.drop_column('campaigns', 'failed_before_send_count')
    op.drop_column('campaigns', 'submitted_count')
    op.drop_column('campaigns', 'template_parameters')
