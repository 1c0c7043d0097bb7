"""variant counts: campaign_variant_counts, the funnel of each variant of an A/B campaign kept
like the counters (core/counts/variants.py), and campaign_billed_counts keyed by variant too
(``variant_id``, 0 without variants: core/counts/billed.py), so that the variants' read-out reads a
few rows instead of grouping the campaign's messages; both filled here from the messages of the
campaigns with variants (the others keep their rows, under variant 0)

Revision ID: 0029_variant_counts
Revises: 0028_presentment
"""

from alembic import op
import sqlalchemy as sa

revision = '0029_variant_counts'
down_revision = '0028_presentment'
branch_labels = None
depends_on = None

_PK = 'pk_campaign_billed_counts'
_WITH_VARIANTS = "SELECT shop_id, id FROM campaigns WHERE variants <> '[]'::jsonb"
# core/counts/funnel.py's METRICS_SQL per variant and the clicked messages, as they were when this
# revision was written.
_FUNNEL = """
    INSERT INTO campaign_variant_counts
           (shop_id, campaign_id, variant_id, messages, sent, delivered, read, failed, clicked)
    SELECT m.shop_id, m.campaign_id, m.variant_id, count(*), count(m.wamid),
           count(*) FILTER (WHERE m.delivered_at IS NOT NULL OR m.read_at IS NOT NULL), count(m.read_at),
           count(*) FILTER (WHERE m.status IN ('failed', 'expired')),
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM clicks k WHERE k.shop_id = m.shop_id
                                                                   AND k.message_id = m.id))
      FROM messages m
     WHERE m.variant_id IS NOT NULL
     GROUP BY 1, 2, 3
"""
# 0027's rebuild, per variant, for the campaigns with variants only.
_BILLED = f"""
    INSERT INTO campaign_billed_counts (shop_id, campaign_id, variant_id, day, prefix, pricing_category, messages)
    SELECT m.shop_id, m.campaign_id, COALESCE(m.variant_id, 0),
           (COALESCE(m.sent_at, m.delivered_at) AT TIME ZONE 'UTC')::date,
           COALESCE(substring(m.phone from 2 for 3), ''), COALESCE(m.pricing_category, ''), count(*)
      FROM messages m
     WHERE (m.shop_id, m.campaign_id) IN ({_WITH_VARIANTS})
       AND m.delivered_at IS NOT NULL AND COALESCE(m.pricing_billable, true)
       AND COALESCE(m.pricing_type, 'regular') = 'regular'
     GROUP BY 1, 2, 3, 4, 5, 6
"""
_MERGE = """
    INSERT INTO campaign_billed_counts (shop_id, campaign_id, variant_id, day, prefix, pricing_category, messages)
    SELECT shop_id, campaign_id, 0, day, prefix, pricing_category, sum(messages)
      FROM campaign_billed_counts WHERE variant_id <> 0
     GROUP BY 1, 2, 4, 5, 6
        ON CONFLICT (shop_id, campaign_id, variant_id, day, prefix, pricing_category) DO UPDATE
       SET messages = campaign_billed_counts.messages + excluded.messages
"""


def upgrade() -> None:
    op.create_table('campaign_variant_counts',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('variant_id', sa.SmallInteger(), nullable=False),
    sa.Column('messages', sa.BigInteger(), nullable=False),
    sa.Column('sent', sa.BigInteger(), nullable=False),
    sa.Column('delivered', sa.BigInteger(), nullable=False),
    sa.Column('read', sa.BigInteger(), nullable=False),
    sa.Column('failed', sa.BigInteger(), nullable=False),
    sa.Column('clicked', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id', 'campaign_id'], ['campaigns.shop_id', 'campaigns.id'], name=op.f('fk_campaign_variant_counts_shop_id_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'campaign_id', 'variant_id', name=op.f('pk_campaign_variant_counts'))
    )
    op.execute(_FUNNEL)
    op.add_column(
        'campaign_billed_counts', sa.Column('variant_id', sa.SmallInteger(), server_default='0', nullable=False)
    )
    op.drop_constraint(_PK, 'campaign_billed_counts', type_='primary')
    op.create_primary_key(
        _PK, 'campaign_billed_counts', ['shop_id', 'campaign_id', 'variant_id', 'day', 'prefix', 'pricing_category']
    )
    op.execute(f'DELETE FROM campaign_billed_counts WHERE (shop_id, campaign_id) IN ({_WITH_VARIANTS})')
    op.execute(_BILLED)


def downgrade() -> None:
    op.execute(_MERGE)
    op.execute('DELETE FROM campaign_billed_counts WHERE variant_id <> 0')
    op.drop_constraint(_PK, 'campaign_billed_counts', type_='primary')
    op.drop_column('campaign_billed_counts', 'variant_id')
    op.create_primary_key(_PK, 'campaign_billed_counts', ['shop_id', 'campaign_id', 'day', 'prefix', 'pricing_category'])
    op.drop_table('campaign_variant_counts')
