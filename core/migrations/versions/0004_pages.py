"""pages: a covering index for the failure breakdown of a campaign

Revision ID: 0004_pages
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = '0004_pages'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Only failed and expired rows, carrying the code and the wamid: the campaign page's
    # breakdown (count per code, and how many never reached Meta) is an index-only scan.
    op.create_index(
        'ix_messages_failures', 'messages', ['shop_id', 'campaign_id', 'error_code'], unique=False,
        postgresql_include=['wamid'], postgresql_where=sa.text("status IN ('failed', 'expired')"),
    )


def downgrade() -> None:
    op.drop_index('ix_messages_failures', table_name='messages', postgresql_where=sa.text("status IN ('failed', 'expired')"))
