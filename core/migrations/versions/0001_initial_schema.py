"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-27 04:53:29.498828
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbox_events',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('topic', sa.String(length=128), nullable=True),
    sa.Column('headers', postgresql.JSONB(astext_type=sa.Text()), server_default='{}', nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.SmallInteger(), server_default='0', nullable=False),
    sa.Column('outcome', sa.String(length=32), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox_events')),
    sa.UniqueConstraint('source', 'digest', name=op.f('uq_inbox_events_source_digest'))
    )
    op.create_index('ix_inbox_events_unprocessed', 'inbox_events', ['id'], unique=False, postgresql_where='processed_at IS NULL')
    op.create_table('parked_statuses',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('wamid', sa.String(length=255), nullable=False),
    sa.Column('status', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('parked_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('shop_id', 'id', name=op.f('pk_parked_statuses'))
    )
    op.create_index(op.f('ix_parked_statuses_shop_id_wamid'), 'parked_statuses', ['shop_id', 'wamid'], unique=False)
    op.create_table('shop_alerts',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=True),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('title', sa.Text(), server_default='', nullable=False),
    sa.Column('details', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('shop_id', 'id', name=op.f('pk_shop_alerts'))
    )
    op.create_index(op.f('ix_shop_alerts_shop_id_created_at'), 'shop_alerts', ['shop_id', 'created_at'], unique=False)
    op.create_table('shops',
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('access_token_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('access_token_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refresh_token_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('refresh_token_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('scopes', sa.Text(), server_default='', nullable=False),
    sa.Column('installed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('uninstalled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.Column('locale', sa.String(length=16), server_default='en', nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('meta_phone_number_id', sa.String(length=64), nullable=True),
    sa.Column('meta_waba_id', sa.String(length=64), nullable=True),
    sa.Column('meta_access_token_ciphertext', sa.LargeBinary(), nullable=True),
    sa.Column('messages_per_second', sa.Integer(), server_default=sa.text('80'), nullable=False),
    sa.Column('credits', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shops')),
    sa.UniqueConstraint('domain', name=op.f('uq_shops_domain')),
    sa.UniqueConstraint('meta_phone_number_id', name=op.f('uq_shops_meta_phone_number_id'))
    )
    op.create_table('campaigns',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='DRAFT', nullable=False),
    sa.Column('template_name', sa.Text(), nullable=False),
    sa.Column('template_language', sa.String(length=16), nullable=False),
    sa.Column('template_category', sa.String(length=32), nullable=False),
    sa.Column('template_format', sa.String(length=32), nullable=True),
    sa.Column('audience', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False),
    sa.Column('estimated_audience', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('scheduled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('launched_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispatch_started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('dispatch_finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('halted_reason', sa.Text(), nullable=True),
    sa.Column('messages_count', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('sent_count', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('delivered_count', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('read_count', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('failed_count', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('clicked_count', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_campaigns_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'id', name=op.f('pk_campaigns')),
    sa.UniqueConstraint('shop_id', 'name', name=op.f('uq_campaigns_shop_id_name'))
    )
    op.create_index(op.f('ix_campaigns_shop_id_created_at_id'), 'campaigns', ['shop_id', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_campaigns_shop_id_status'), 'campaigns', ['shop_id', 'status'], unique=False)
    op.create_table('customers',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('shopify_customer_id', sa.BigInteger(), nullable=False),
    sa.Column('first_name', sa.Text(), server_default='', nullable=False),
    sa.Column('last_name', sa.Text(), server_default='', nullable=False),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('phone_e164', sa.String(length=20), nullable=True),
    sa.Column('country_code', sa.String(length=2), nullable=True),
    sa.Column('tags', postgresql.ARRAY(sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('consent', sa.String(length=16), server_default='UNKNOWN', nullable=False),
    sa.Column('consent_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shopify_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_customers_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'id', name=op.f('pk_customers')),
    sa.UniqueConstraint('shop_id', 'shopify_customer_id', name=op.f('uq_customers_shop_id_shopify_customer_id'))
    )
    op.create_table('messages',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=True),
    sa.Column('phone', sa.String(length=64), nullable=True),
    sa.Column('wamid', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=16), server_default='queued', nullable=False),
    sa.Column('status_rank', sa.SmallInteger(), sa.Computed("CASE status WHEN 'queued' THEN 0 WHEN 'accepted' THEN 10 WHEN 'held' THEN 20 WHEN 'sent' THEN 30 WHEN 'expired' THEN 35 WHEN 'failed' THEN 40 WHEN 'delivered' THEN 50 WHEN 'read' THEN 60 ELSE -1 END", persisted=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_category', sa.String(length=16), nullable=True),
    sa.Column('error_title', sa.Text(), nullable=True),
    sa.Column('error_details', sa.Text(), nullable=True),
    sa.Column('error_href', sa.Text(), nullable=True),
    sa.Column('error_source', sa.String(length=8), nullable=True),
    sa.Column('pricing_category', sa.String(length=32), nullable=True),
    sa.Column('pricing_type', sa.String(length=32), nullable=True),
    sa.Column('pricing_billable', sa.Boolean(), nullable=True),
    sa.Column('conversation_id', sa.String(length=255), nullable=True),
    sa.Column('conversation_origin', sa.String(length=32), nullable=True),
    sa.Column('recipient_user_id', sa.String(length=160), nullable=True),
    sa.Column('send_attempts', sa.SmallInteger(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['shop_id', 'campaign_id'], ['campaigns.shop_id', 'campaigns.id'], name=op.f('fk_messages_shop_id_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['shop_id', 'customer_id'], ['customers.shop_id', 'customers.id'], name=op.f('fk_messages_shop_id_customer_id_customers'), ondelete='SET NULL (customer_id)'),
    sa.PrimaryKeyConstraint('shop_id', 'id', name=op.f('pk_messages')),
    sa.UniqueConstraint('shop_id', 'campaign_id', 'customer_id', name=op.f('uq_messages_shop_id_campaign_id_customer_id')),
    sa.UniqueConstraint('shop_id', 'wamid', name=op.f('uq_messages_shop_id_wamid'))
    )
    op.create_index(op.f('ix_messages_shop_id_campaign_id_error_code_id'), 'messages', ['shop_id', 'campaign_id', 'error_code', 'id'], unique=False, postgresql_where='error_code IS NOT NULL')
    op.create_index(op.f('ix_messages_shop_id_campaign_id_status_id'), 'messages', ['shop_id', 'campaign_id', 'status', 'id'], unique=False)
    op.create_table('clicks',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('source_id', sa.String(length=255), nullable=True),
    sa.Column('clicked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id', 'message_id'], ['messages.shop_id', 'messages.id'], name=op.f('fk_clicks_shop_id_message_id_messages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'id', name=op.f('pk_clicks')),
    sa.UniqueConstraint('shop_id', 'source_id', name=op.f('uq_clicks_shop_id_source_id'))
    )
    op.create_index(op.f('ix_clicks_shop_id_message_id'), 'clicks', ['shop_id', 'message_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_clicks_shop_id_message_id'), table_name='clicks')
    op.drop_table('clicks')
    op.drop_index(op.f('ix_messages_shop_id_campaign_id_status_id'), table_name='messages')
    op.drop_index(op.f('ix_messages_shop_id_campaign_id_error_code_id'), table_name='messages', postgresql_where='error_code IS NOT NULL')
    op.drop_table('messages')
    op.drop_table('customers')
    op.drop_index(op.f('ix_campaigns_shop_id_status'), table_name='campaigns')
    op.drop_index(op.f('ix_campaigns_shop_id_created_at_id'), table_name='campaigns')
    op.drop_table('campaigns')
    op.drop_table('shops')
    op.drop_index(op.f('ix_shop_alerts_shop_id_created_at'), table_name='shop_alerts')
    op.drop_table('shop_alerts')
    op.drop_index(op.f('ix_parked_statuses_shop_id_wamid'), table_name='parked_statuses')
    op.drop_table('parked_statuses')
    op.drop_index('ix_inbox_events_unprocessed', table_name='inbox_events', postgresql_where='processed_at IS NULL')
    op.drop_table('inbox_events')
