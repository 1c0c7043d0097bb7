"""test then send: campaigns.test_then_send, an A/B campaign's test share and hours, and once
the rest of its audience is sent, which variant won and why

Revision ID: 0032_test_then_send
Revises: 0031_number_status
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0032_test_then_send'
down_revision = '0031_number_status'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaigns', sa.Column('test_then_send', postgresql.JSONB(), nullable=True))


def downgrade() -> None:
    op.drop_column('campaigns', 'test_then_send')
