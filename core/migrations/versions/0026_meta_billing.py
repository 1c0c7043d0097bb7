"""meta billing: what Meta's pricing_analytics said each shop's WhatsApp Business Account was
billed, per UTC day (meta_billing_reads: the days read, with the account's currency) and per day,
country, pricing category, pricing type and tier (meta_billed_rows: volume and cost), for the
daily reconciliation with our own cost (core/reconcile/)

Revision ID: 0026_meta_billing
Revises: 0025_experiments
"""

from alembic import op
import sqlalchemy as sa

revision = '0026_meta_billing'
down_revision = '0025_experiments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('meta_billing_reads',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('waba_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_meta_billing_reads_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'waba_id', 'day', name=op.f('pk_meta_billing_reads'))
    )
    op.create_table('meta_billed_rows',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('waba_id', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('country', sa.String(length=8), nullable=False),
    sa.Column('pricing_category', sa.String(length=48), nullable=False),
    sa.Column('pricing_type', sa.String(length=48), nullable=False),
    sa.Column('tier', sa.String(length=32), nullable=False),
    sa.Column('volume', sa.BigInteger(), nullable=False),
    sa.Column('cost', sa.Numeric(precision=18, scale=6), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_meta_billed_rows_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'waba_id', 'day', 'country', 'pricing_category', 'pricing_type', 'tier', name=op.f('pk_meta_billed_rows'))
    )


def downgrade() -> None:
    op.drop_table('meta_billed_rows')
    op.drop_table('meta_billing_reads')
