"""holdouts: the whole percent of a campaign's audience kept unsent as a baseline
(``campaigns.holdout_share``), who was kept (``campaign_holdouts``, one row per customer,
written when the audience is materialised; core/experiments/holdout.py) and how many
(``campaigns.held_out_count``)

Revision ID: 0024_holdouts
Revises: 0023_citus_keys
"""

from alembic import op
import sqlalchemy as sa

revision = '0024_holdouts'
down_revision = '0023_citus_keys'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        'campaigns', sa.Column('holdout_share', sa.BigInteger(), server_default=sa.text('0'), nullable=False)
    )
    op.add_column(
        'campaigns', sa.Column('held_out_count', sa.BigInteger(), server_default=sa.text('0'), nullable=False)
    )
    op.create_table('campaign_holdouts',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('campaign_id', sa.BigInteger(), nullable=False),
    sa.Column('customer_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(
        ['shop_id', 'campaign_id'], ['campaigns.shop_id', 'campaigns.id'],
        name=op.f('fk_campaign_holdouts_shop_id_campaigns'), ondelete='CASCADE',
    ),
    sa.PrimaryKeyConstraint('shop_id', 'campaign_id', 'customer_id', name=op.f('pk_campaign_holdouts'))
    )


def downgrade() -> None:
    op.drop_table('campaign_holdouts')
    op.drop_column('campaigns', 'held_out_count')
    op.drop_column('campaigns', 'holdout_share')
