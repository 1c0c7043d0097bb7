"""outcomes: orders and refunds, the credit ledger, bulk phone fixes

Revision ID: 0010_outcomes
Revises: 0008_components

Also: the shop's attribution window and rate card override, and a campaign's follow-up link.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0010_outcomes'
down_revision = '0008_components'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('credit_movements',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=True),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_credit_movements_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'id', name=op.f('pk_credit_movements'))
    )
    op.create_index(op.f('ix_credit_movements_shop_id_campaign_id'), 'credit_movements', ['shop_id', 'campaign_id'], unique=False)
    op.create_index(op.f('ix_credit_movements_shop_id_created_at_id'), 'credit_movements', ['shop_id', 'created_at', 'id'], unique=False)
    op.create_table('order_refunds',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('shopify_refund_id', sa.BigInteger(), nullable=False),
    sa.Column('shopify_order_id', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('refunded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_order_refunds_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'shopify_refund_id', name=op.f('pk_order_refunds'))
    )
    op.create_index(op.f('ix_order_refunds_shop_id_shopify_order_id'), 'order_refunds', ['shop_id', 'shopify_order_id'], unique=False)
    op.create_table('orders',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('shopify_order_id', sa.BigInteger(), nullable=False),
    sa.Column('shopify_customer_id', sa.BigInteger(), nullable=True),
    sa.Column('total', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('ordered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shopify_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_orders_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'shopify_order_id', name=op.f('pk_orders'))
    )
    op.create_index(op.f('ix_orders_shop_id_shopify_customer_id_ordered_at'), 'orders', ['shop_id', 'shopify_customer_id', 'ordered_at'], unique=False)
    op.create_table('phone_fixes',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=False),
    sa.Column('old_phone', sa.String(length=64), nullable=True),
    sa.Column('suggested_phone', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('done_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_phone_fixes_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'id', name=op.f('pk_phone_fixes')),
    sa.UniqueConstraint('shop_id', 'campaign_id', 'customer_id', name=op.f('uq_phone_fixes_shop_id_campaign_id_customer_id'))
    )
    op.add_column('campaigns', sa.Column('follow_up_of', sa.BigInteger(), nullable=True))
    op.add_column('shops', sa.Column('attribution_window_days', sa.Integer(), server_default=sa.text('7'), nullable=False))
    op.add_column('shops', sa.Column('rate_card', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('shops', sa.Column('orders_changed_at', sa.DateTime(timezone=True), nullable=True))
    # The ledger starts with each shop's balance, so the balance equals the sum of its movements.
    op.execute(
        "INSERT INTO credit_movements (shop_id, kind, amount, note)"
        " SELECT id, 'grant', credits, 'balance before the ledger' FROM shops WHERE credits <> 0"
    )


def downgrade() -> None:
    op.drop_column('shops', 'orders_changed_at')
    op.drop_column('shops', 'rate_card')
    op.drop_column('shops', 'attribution_window_days')
    op.drop_column('campaigns', 'follow_up_of')
    op.drop_table('phone_fixes')
    op.drop_index(op.f('ix_orders_shop_id_shopify_customer_id_ordered_at'), table_name='orders')
    op.drop_table('orders')
    op.drop_index(op.f('ix_order_refunds_shop_id_shopify_order_id'), table_name='order_refunds')
    op.drop_table('order_refunds')
    op.drop_index(op.f('ix_credit_movements_shop_id_created_at_id'), table_name='credit_movements')
    op.drop_index(op.f('ix_credit_movements_shop_id_campaign_id'), table_name='credit_movements')
    op.drop_table('credit_movements')
