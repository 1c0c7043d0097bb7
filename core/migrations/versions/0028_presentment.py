"""presentment: orders.presentment_total and orders.presentment_currency, the order's total in
the currency the customer paid in (Shopify's presentment money), kept for display beside the
shop-money total that revenue counts; empty for orders stored before

Revision ID: 0028_presentment
Revises: 0027_dated_rates
"""

from alembic import op
import sqlalchemy as sa

revision = '0028_presentment'
down_revision = '0027_dated_rates'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('orders', sa.Column('presentment_total', sa.Numeric(14, 2), nullable=True))
    op.add_column('orders', sa.Column('presentment_currency', sa.String(3), nullable=True))


def downgrade() -> None:
    op.drop_column('orders', 'presentment_currency')
    op.drop_column('orders', 'presentment_total')
