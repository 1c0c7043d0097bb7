"""paid orders and consent: whether each order is a test and its financial status, so revenue
counts only real, paid orders (core/rules/order_states.py)

Revision ID: 0015_paid_orders_and_consent
Revises: 0013_failure_counts
"""

from alembic import op
import sqlalchemy as sa

revision = '0015_paid_orders_and_consent'
down_revision = '0013_failure_counts'
branch_labels = None
depends_on = None

# Until now every stored order that was not cancelled counted: the defaults keep saying so for
# them ('paid', not a test) until Shopify's next orders/updated says otherwise.


def upgrade() -> None:
    op.add_column('orders', sa.Column('test', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column(
        'orders', sa.Column('financial_status', sa.String(length=32), server_default='paid', nullable=False)
    )


def downgrade() -> None:
    op.drop_column('orders', 'financial_status')
    op.drop_column('orders', 'test')
