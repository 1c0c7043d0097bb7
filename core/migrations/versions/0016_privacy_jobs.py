"""privacy jobs: compliance requests carried out step by step by their own job

Revision ID: 0016_privacy_jobs
Revises: 0015_inbox_integrity

``privacy_requests`` holds each customer erasure, shop erasure and data request export while the
shop's privacy job carries it out in short transactions (core/shopify/privacy.py), with where it
got to, so that a job that dies resumes there. A data request says when its data was gathered
(``collected_at``; requests recorded before this revision had their snapshot at once). A partial
index on the inbox holds exactly the bodies not yet emptied, by id: an erasure walks those in
chunks, never the emptied history.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0016_privacy_jobs'
down_revision = '0015_inbox_integrity'
branch_labels = None
depends_on = None

OPEN_WHERE = "finished_at IS NULL"
BODIES_WHERE = "octet_length(body) > 0"


def upgrade() -> None:
    op.create_table('privacy_requests',
    sa.Column('shop_id', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('shopify_customer_id', sa.BigInteger(), nullable=True),
    sa.Column('data_request_id', sa.BigInteger(), nullable=True),
    sa.Column('phone_digests', postgresql.ARRAY(sa.LargeBinary()), nullable=True),
    sa.Column('phone_number_ids', postgresql.ARRAY(sa.String(length=64)), nullable=True),
    sa.Column('step', sa.String(length=16), nullable=False),
    sa.Column('reached_id', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_privacy_requests_shop_id_shops'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('shop_id', 'id', name=op.f('pk_privacy_requests'))
    )
    op.create_index(
        'ix_privacy_requests_open', 'privacy_requests', ['shop_id'], unique=False,
        postgresql_where=sa.text(OPEN_WHERE),
    )
    op.add_column(
        'customer_data_requests', sa.Column('collected_at', sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE customer_data_requests SET collected_at = received_at")
    op.create_index(
        'ix_inbox_events_bodies', 'inbox_events', ['id'], unique=False,
        postgresql_where=sa.text(BODIES_WHERE),
    )


def downgrade() -> None:
    op.drop_index('ix_inbox_events_bodies', table_name='inbox_events')
    op.drop_column('customer_data_requests', 'collected_at')
    op.drop_index('ix_privacy_requests_open', table_name='privacy_requests')
    op.drop_table('privacy_requests')
