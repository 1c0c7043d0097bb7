"""customer-page block: an index on a customer's messages

Revision ID: 0011_block
Revises: 0007_shopify_schema
"""

from alembic import op

revision = '0011_block'
down_revision = '0007_shopify_schema'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_messages_customer', 'messages', ['shop_id', 'customer_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_customer', table_name='messages')
