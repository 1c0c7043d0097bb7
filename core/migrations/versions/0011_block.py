"""customer-page block: an index on a customer's messages

Revision ID: 0011_block
Revises: 0006_whatsapp
"""

from alembic import op

revision = '0011_block'
down_revision = '0006_whatsapp'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_messages_customer', 'messages', ['shop_id', 'customer_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_customer', table_name='messages')
