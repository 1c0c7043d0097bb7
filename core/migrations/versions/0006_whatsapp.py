"""whatsapp: a shop's WhatsApp Business connection as Meta described it

Revision ID: 0006_whatsapp
Revises: 0003_engine

The shop keeps its phone number id, WABA id, encrypted token and send cap (the hot paths read
them there); this table keeps the number's name, quality, tiers, our webhook subscription and
the last webhook seen. A shop connected by a seed document has no row until it is checked.
"""

from alembic import op
import sqlalchemy as sa

revision = '0006_whatsapp'
down_revision = '0003_engine'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('whatsapp_connections',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('waba_id', sa.String(length=64), nullable=False),
    sa.Column('phone_number_id', sa.String(length=64), nullable=False),
    sa.Column('display_phone_number', sa.String(length=64), nullable=True),
    sa.Column('verified_name', sa.String(length=255), nullable=True),
    sa.Column('quality_rating', sa.String(length=32), nullable=True),
    sa.Column('messaging_limit_tier', sa.String(length=32), nullable=True),
    sa.Column('throughput_level', sa.String(length=32), nullable=True),
    sa.Column('messages_per_second', sa.Integer(), nullable=False),
    sa.Column('webhooks_subscribed', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('connected_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('checked_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('disconnected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_webhook_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_whatsapp_connections_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', name=op.f('pk_whatsapp_connections'))
    )


def downgrade() -> None:
    op.drop_table('whatsapp_connections')
