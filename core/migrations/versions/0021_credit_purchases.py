"""credit purchases: credit packs bought through Shopify's Billing API (one-time purchases,
core/shopify/billing.py), keyed by the shop and Shopify's purchase id, and the grant movement
that pays each one out, unique per purchase so a purchase is credited exactly once however
often Shopify confirms it (core/outcomes/purchases.py)

Revision ID: 0021_credit_purchases
Revises: 0020_account_webhooks
"""

from alembic import op
import sqlalchemy as sa

revision = '0021_credit_purchases'
down_revision = '0020_account_webhooks'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('credit_purchases',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('purchase_gid', sa.String(length=255), nullable=False),
    sa.Column('pack_id', sa.String(length=32), nullable=False),
    sa.Column('credits', sa.BigInteger(), nullable=False),
    sa.Column('amount', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('test', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('credited_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_credit_purchases_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'id', name=op.f('pk_credit_purchases')),
    sa.UniqueConstraint('shop_id', 'purchase_gid', name=op.f('uq_credit_purchases_shop_id_purchase_gid'))
    )
    op.add_column('credit_movements', sa.Column('purchase_id', sa.BigInteger(), nullable=True))
    op.create_index(
        'uq_credit_movements_shop_id_purchase_id', 'credit_movements', ['shop_id', 'purchase_id'],
        unique=True, postgresql_where=sa.text('purchase_id IS NOT NULL'),
    )


def downgrade() -> None:
    op.drop_index('uq_credit_movements_shop_id_purchase_id', table_name='credit_movements')
    op.drop_column('credit_movements', 'purchase_id')
    op.drop_table('credit_purchases')
