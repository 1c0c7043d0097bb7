"""components: a campaign's template components in Meta's shape

Revision ID: 0008_components
Revises: 0011_block

Header, body and button parameters of a campaign, as the draft gave them (literals, customer
fields with a fallback, media links, tracked destinations). The older body-only
``template_parameters`` stays for campaigns made before. ``template_definition`` keeps the
template's own components as Meta listed them when the draft was made or launched, so the
campaign page can show the message as the customer sees it without asking Meta. An index finds the customer of a
consent stop that Meta keys by business-scoped user id only. ``halted_code`` keeps the code that
halted dispatch, so sends still in flight at the halt fail with it too.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008_components'
down_revision = '0011_block'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaigns', sa.Column('template_components', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False))
    op.add_column('campaigns', sa.Column('template_definition', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False))
    op.add_column('campaigns', sa.Column('halted_code', sa.String(length=32), nullable=True))
    op.create_index('ix_messages_recipient_user_id', 'messages', ['shop_id', 'recipient_user_id'], unique=False, postgresql_where='recipient_user_id IS NOT NULL')


def downgrade() -> None:
    op.drop_index('ix_messages_recipient_user_id', table_name='messages', postgresql_where='recipient_user_id IS NOT NULL')
    op.drop_column('campaigns', 'halted_code')
    op.drop_column('campaigns', 'template_definition')
    op.drop_column('campaigns', 'template_components')
