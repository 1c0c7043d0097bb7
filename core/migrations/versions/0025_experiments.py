"""experiments: a campaign's A/B variants (``campaigns.variants``: 2 to 4, each its own template,
components and share of the audience, numbered from 1), the metric its read-out compares
(``campaigns.experiment_metric``), and the variant each message was sent (``messages.variant_id``,
null without variants; core/reports/variants.py); and when each customer is sent
(``send_time_mode``: ``now`` or ``per_customer``, at the hour the customer reads within
``send_time_window_hours``; core/experiments/send_time.py)

Revision ID: 0025_experiments
Revises: 0024_holdouts
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0025_experiments'
down_revision = '0024_holdouts'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'campaigns',
        sa.Column('variants', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    )
    op.add_column('campaigns', sa.Column('experiment_metric', sa.String(length=32), nullable=True))
    op.add_column('messages', sa.Column('variant_id', sa.SmallInteger(), nullable=True))
    op.add_column(
        'campaigns', sa.Column('send_time_mode', sa.String(length=16), server_default='now', nullable=False)
    )
    op.add_column('campaigns', sa.Column('send_time_window_hours', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    op.drop_column('campaigns', 'send_time_window_hours')
    op.drop_column('campaigns', 'send_time_mode')
    op.drop_column('messages', 'variant_id')
    op.drop_column('campaigns', 'experiment_metric')
    op.drop_column('campaigns', 'variants')
