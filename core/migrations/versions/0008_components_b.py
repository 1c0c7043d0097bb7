"""components, part two: the template kept with a campaign, the code that halted it, BSUID stops

Revision ID: 0008_components_b
Revises: 0010_outcomes

``template_definition`` keeps the template's own components as Meta listed them when the draft
was made or launched, so the campaign page can show the message as the customer sees it
without asking Meta. ``halted_code`` keeps the code that halted dispatch, so sends still in
flight at the halt fail with it too. An index finds the customer of a consent stop that Meta
keys by business-scoped user id only. (A second revision rather than an edit of
0008_components, which databases may already have applied.)
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008_components_b'
down_revision = '0010_outcomes'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaigns', sa.Column('template_definition', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False))
    op.add_column('campaigns', sa.Column('halted_code', sa.String(length=32), nullable=True))
    op.create_index('ix_messages_recipient_user_id', 'messages', ['shop_id', 'recipient_user_id'], unique=False, postgresql_where='recipient_user_id IS NOT NULL')


def downgrade() -> None:
    op.drop_index('ix_messages_recipient_user_id', table_name='messages', postgresql_where='recipient_user_id IS NOT NULL')
    op.drop_column('campaigns', 'halted_code')
    op.drop_column('campaigns', 'template_definition')
