"""failure counts: campaign_failure_counts and campaign_billed_counts, each campaign's failure
breakdown and billed messages kept incrementally (core/counts/failures.py, core/counts/billed.py), filled here
from the messages already stored; and two partial indexes that
bound the page's count of customers fixed since their message failed for a missing calling
code: those messages, and the shop's customers without a valid number

Revision ID: 0013_failure_counts
Revises: 0009_trust
"""

from alembic import op
import sqlalchemy as sa

revision = '0013_failure_counts'
down_revision = '0009_trust'
branch_labels = None
depends_on = None

# core/counts/failures.py's failure_code_sql() as it was when this revision was written.
_BACKFILL = """
    INSERT INTO campaign_failure_counts (shop_id, campaign_id, code, accepted, messages)
    SELECT shop_id, campaign_id, COALESCE(error_code, 'MESSAGE_EXPIRED'), wamid IS NOT NULL, count(*)
      FROM messages
     WHERE status IN ('failed', 'expired')
     GROUP BY 1, 2, 3, 4
"""
# core/counts/billed.py's PREFIX_SQL and CATEGORY_SQL, core/outcomes/credits.py's BILLED_SQL, as they were then.
_BILLED_BACKFILL = """
    INSERT INTO campaign_billed_counts (shop_id, campaign_id, prefix, pricing_category, messages)
    SELECT shop_id, campaign_id, COALESCE(substring(phone from 2 for 3), ''), COALESCE(pricing_category, ''),
           count(*)
      FROM messages
     WHERE delivered_at IS NOT NULL AND COALESCE(pricing_billable, true)
       AND COALESCE(pricing_type, 'regular') = 'regular'
     GROUP BY 1, 2, 3, 4
"""
CALLING_CODE_WHERE = "error_code = 'CUSTOMER_IS_MISSING_CALLING_CODE' AND status = 'failed'"
WITHOUT_E164_WHERE = "phone_e164 IS NULL"


def upgrade() -> None:
    op.create_table('campaign_failure_counts',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('accepted', sa.Boolean(), nullable=False),
    sa.Column('messages', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id', 'campaign_id'], ['campaigns.shop_id', 'campaigns.id'], name=op.f('fk_campaign_failure_counts_shop_id_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'campaign_id', 'code', 'accepted', name=op.f('pk_campaign_failure_counts'))
    )
    op.execute(_BACKFILL)
    op.create_table('campaign_billed_counts',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('prefix', sa.String(length=3), nullable=False),
    sa.Column('pricing_category', sa.String(length=32), nullable=False),
    sa.Column('messages', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id', 'campaign_id'], ['campaigns.shop_id', 'campaigns.id'], name=op.f('fk_campaign_billed_counts_shop_id_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'campaign_id', 'prefix', 'pricing_category', name=op.f('pk_campaign_billed_counts'))
    )
    op.execute(_BILLED_BACKFILL)
    op.create_index(
        'ix_messages_calling_code', 'messages', ['shop_id', 'campaign_id', 'customer_id'], unique=False,
        postgresql_where=sa.text(CALLING_CODE_WHERE),
    )
    op.create_index(
        'ix_customers_without_e164', 'customers', ['shop_id', 'id'], unique=False,
        postgresql_where=sa.text(WITHOUT_E164_WHERE),
    )


def downgrade() -> None:
    op.drop_index('ix_customers_without_e164', table_name='customers')
    op.drop_index('ix_messages_calling_code', table_name='messages')
    op.drop_table('campaign_billed_counts')
    op.drop_table('campaign_failure_counts')
