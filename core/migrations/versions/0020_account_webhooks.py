"""account webhooks: what Meta's account-level webhook fields said last. whatsapp_connections
gains the portfolio's messaging limit, the number's last quality event, the account's last
event with its restrictions, and whether the number is also on the WhatsApp Business app (fixed
at 20 messages a second); meta_template_states keeps each template's status and quality per
shop (core/meta_webhooks/account_changes.py). shops.send_cap_per_second is the merchant's own
lower rate, which no check with Meta raises; shops.marketing_cap_hours its frequency cap
(at most one marketing campaign per customer in that many hours). campaigns.spread_* keep a campaign launched over
Meta's messaging limit in waves a day apart (core/campaigns/messaging_limit.py).

Revision ID: 0020_account_webhooks
Revises: 0019_credit_shortfall
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0020_account_webhooks'
down_revision = '0019_credit_shortfall'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('whatsapp_connections', sa.Column('messaging_limit', sa.BigInteger(), nullable=True))
    op.add_column('whatsapp_connections', sa.Column('quality_event', sa.String(length=32), nullable=True))
    op.add_column('whatsapp_connections', sa.Column('account_event', sa.String(length=64), nullable=True))
    op.add_column(
        'whatsapp_connections',
        sa.Column('account_restrictions', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column('whatsapp_connections', sa.Column('health_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        'whatsapp_connections',
        sa.Column('on_business_app', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    )
    op.add_column(
        'whatsapp_connections',
        sa.Column('webhook_fields_missing', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column('shops', sa.Column('send_cap_per_second', sa.Integer(), nullable=True))
    op.add_column('shops', sa.Column('marketing_cap_hours', sa.Integer(), nullable=True))
    op.add_column(
        'campaigns',
        sa.Column('spread_over_limit', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    )
    op.add_column('campaigns', sa.Column('spread_first_wave', sa.BigInteger(), nullable=True))
    op.add_column('campaigns', sa.Column('spread_wave_size', sa.BigInteger(), nullable=True))
    op.create_table(
        'meta_template_states',
        sa.Column('shop_id', sa.BigInteger(), nullable=False),
        sa.Column('name', sa.Text(), nullable=False),
        sa.Column('language', sa.String(length=16), nullable=False),
        sa.Column('template_id', sa.String(length=64), nullable=True),
        sa.Column('status', sa.String(length=32), nullable=True),
        sa.Column('reason', sa.Text(), nullable=True),
        sa.Column('status_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('quality', sa.String(length=16), nullable=True),
        sa.Column('quality_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['shop_id'], ['shops.id'], name=op.f('fk_meta_template_states_shop_id_shops'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('shop_id', 'name', 'language', name=op.f('pk_meta_template_states')),
    )


def downgrade() -> None:
    op.drop_table('meta_template_states')
    for column in ('spread_wave_size', 'spread_first_wave', 'spread_over_limit'):
        op.drop_column('campaigns', column)
    op.drop_column('shops', 'marketing_cap_hours')
    op.drop_column('shops', 'send_cap_per_second')
    op.drop_column('whatsapp_connections', 'on_business_app')
    op.drop_column('whatsapp_connections', 'webhook_fields_missing')
    for column in ('health_at', 'account_restrictions', 'account_event', 'quality_event', 'messaging_limit'):
        op.drop_column('whatsapp_connections', column)
