"""shopify: install, webhooks, customer sync

Revision ID: 0005_shopify
Revises: 0004_pages

Tombstones of deleted/redacted customers, the ledger of applied Shopify deliveries, recorded
data requests, where a customer's consent came from, when the shop's customers were last
imported, and the Shopify drain's own inbox index. (Branched from 0001 for review; chained
after 0004_pages, the head of main, so that ``upgrade head`` stays linear.)
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0005_shopify'
down_revision = '0004_pages'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('customer_data_requests',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('shopify_customer_id', sa.BigInteger(), nullable=False),
    sa.Column('data_request_id', sa.BigInteger(), nullable=True),
    sa.Column('orders_requested', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('held', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_customer_data_requests_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'id', name=op.f('pk_customer_data_requests'))
    )
    op.create_table('customer_tombstones',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('shopify_customer_id', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.String(length=16), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_customer_tombstones_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'shopify_customer_id', name=op.f('pk_customer_tombstones'))
    )
    op.create_table('shopify_webhook_deliveries',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('webhook_id', sa.String(length=255), nullable=False),
    sa.Column('topic', sa.String(length=128), nullable=False),
    sa.Column('applied_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_shopify_webhook_deliveries_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'webhook_id', name=op.f('pk_shopify_webhook_deliveries'))
    )
    op.create_index(op.f('ix_shopify_webhook_deliveries_applied_at'), 'shopify_webhook_deliveries', ['applied_at'], unique=False)
    op.add_column('customers', sa.Column('consent_source', sa.String(length=16), nullable=True))
    op.create_index('ix_inbox_events_shopify', 'inbox_events', ['processed_at', 'id'], unique=False, postgresql_where="source = 'shopify'")
    op.add_column('shops', sa.Column('customers_synced_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('shops', 'customers_synced_at')
    op.drop_index('ix_inbox_events_shopify', table_name='inbox_events', postgresql_where="source = 'shopify'")
    op.drop_column('customers', 'consent_source')
    op.drop_index(op.f('ix_shopify_webhook_deliveries_applied_at'), table_name='shopify_webhook_deliveries')
    op.drop_table('shopify_webhook_deliveries')
    op.drop_table('customer_tombstones')
    op.drop_table('customer_data_requests')
