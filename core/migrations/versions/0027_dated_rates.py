"""dated rates: campaign_billed_counts keyed by the UTC day the messages were sent too, so the
rate card in force that day prices them (core/counts/billed.py), rebuilt here from the messages;
and whatsapp_connections.currency, the currency Meta bills the account in, which picks the card

Revision ID: 0027_dated_rates
Revises: 0026_meta_billing
"""

from alembic import op
import sqlalchemy as sa

revision = '0027_dated_rates'
down_revision = '0026_meta_billing'
branch_labels = None
depends_on = None

_PK = 'pk_campaign_billed_counts'
# core/counts/billed.py's DAY_SQL, PREFIX_SQL and CATEGORY_SQL and core/outcomes/credits.py's
# BILLED_SQL, as they were when this revision was written.
_REBUILD = """
    INSERT INTO campaign_billed_counts (shop_id, campaign_id, day, prefix, pricing_category, messages)
    SELECT shop_id, campaign_id, (COALESCE(sent_at, delivered_at) AT TIME ZONE 'UTC')::date,
           COALESCE(substring(phone from 2 for 3), ''), COALESCE(pricing_category, ''), count(*)
      FROM messages
     WHERE delivered_at IS NOT NULL AND COALESCE(pricing_billable, true)
       AND COALESCE(pricing_type, 'regular') = 'regular'
     GROUP BY 1, 2, 3, 4, 5
"""
_REBUILD_UNDATED = """
    INSERT INTO campaign_billed_counts (shop_id, campaign_id, prefix, pricing_category, messages)
    SELECT shop_id, campaign_id, COALESCE(substring(phone from 2 for 3), ''), COALESCE(pricing_category, ''),
           count(*)
      FROM messages
     WHERE delivered_at IS NOT NULL AND COALESCE(pricing_billable, true)
       AND COALESCE(pricing_type, 'regular') = 'regular'
     GROUP BY 1, 2, 3, 4
"""


def upgrade() -> None:
    op.add_column('whatsapp_connections', sa.Column('currency', sa.String(length=3), nullable=True))
    # The kept rows cannot be split by day without the messages: empty them and count again.
    op.execute('DELETE FROM campaign_billed_counts')
    op.add_column('campaign_billed_counts', sa.Column('day', sa.Date(), nullable=False))
    op.drop_constraint(_PK, 'campaign_billed_counts', type_='primary')
    op.create_primary_key(_PK, 'campaign_billed_counts', ['shop_id', 'campaign_id', 'day', 'prefix', 'pricing_category'])
    op.execute(_REBUILD)


def downgrade() -> None:
    op.execute('DELETE FROM campaign_billed_counts')
    op.drop_constraint(_PK, 'campaign_billed_counts', type_='primary')
    op.drop_column('campaign_billed_counts', 'day')
    op.create_primary_key(_PK, 'campaign_billed_counts', ['shop_id', 'campaign_id', 'prefix', 'pricing_category'])
    op.execute(_REBUILD_UNDATED)
    op.drop_column('whatsapp_connections', 'currency')
