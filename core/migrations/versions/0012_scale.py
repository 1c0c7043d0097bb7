"""scale: campaign_timing_buckets, the time-to-deliver and time-to-read distributions kept
incrementally (core/counts/timings.py), filled here from the messages already stored

Revision ID: 0012_scale
Revises: 0008_components_b
"""

from alembic import op
import sqlalchemy as sa

revision = '0012_scale'
down_revision = '0008_components_b'
branch_labels = None
depends_on = None

# core/counts/timings.py's bucket_sql() and duration_sql() as they were when this revision was written.
_BACKFILL = """
    INSERT INTO campaign_timing_buckets (shop_id, campaign_id, kind, bucket, messages, milliseconds)
    SELECT m.shop_id, m.campaign_id, k.kind,
           (CASE WHEN d.ms < 600000 THEN (d.ms) / 1000
                 WHEN d.ms < 3600000 THEN 600 + (d.ms - 600000) / 10000
                 WHEN d.ms < 86400000 THEN 900 + (d.ms - 3600000) / 60000
                 WHEN d.ms < 2592000000 THEN 2280 + (d.ms - 86400000) / 600000
                 ELSE 6456 END)::smallint,
           count(*), sum(d.ms)
      FROM messages m
     CROSS JOIN (VALUES ('deliver'), ('read')) AS k(kind)
     CROSS JOIN LATERAL (
         SELECT CASE WHEN m.sent_at IS NOT NULL
                      AND (CASE k.kind WHEN 'deliver' THEN m.delivered_at ELSE m.read_at END) IS NOT NULL
                     THEN greatest(round(extract(epoch FROM
                              (CASE k.kind WHEN 'deliver' THEN m.delivered_at ELSE m.read_at END) - m.sent_at)
                              * 1000), 0)::bigint END AS ms
     ) AS d
     WHERE m.status IN ('delivered', 'read') AND d.ms IS NOT NULL
     GROUP BY 1, 2, 3, 4
"""


def upgrade() -> None:
    op.create_table('campaign_timing_buckets',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('bucket', sa.SmallInteger(), autoincrement=False, nullable=False),
    sa.Column('messages', sa.BigInteger(), nullable=False),
    sa.Column('milliseconds', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id', 'campaign_id'], ['campaigns.shop_id', 'campaigns.id'], name=op.f('fk_campaign_timing_buckets_shop_id_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'campaign_id', 'kind', 'bucket', name=op.f('pk_campaign_timing_buckets'))
    )
    op.execute(_BACKFILL)


def downgrade() -> None:
    op.drop_table('campaign_timing_buckets')
