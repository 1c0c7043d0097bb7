"""inbox integrity: a failed Shopify event waits for its next attempt instead of blocking the
drain; old Shopify webhooks replayed are recognised

Revision ID: 0015_inbox_integrity
Revises: 0013_failure_counts

The Shopify drain counts each attempt before it applies an event, in a transaction of its own,
and gives the event a time before which it is not tried again (``retry_at``, later after each
failed attempt): an event whose transaction is lost (a statement timeout, a cut connection, a
killed worker) no longer comes back first in every claim (core/shopify/drain.py). A partial
index holds the events set aside as failed, for ``flask --app web inbox failed``.

Shopify's inbox rows are no longer deleted after their retention, only their bodies emptied
(a partial index holds the bodies still to empty), so the digest of every body ever received
stays and a signed body replayed later is recognised. The ledger of applied deliveries also
keeps ``X-Shopify-Event-Id``: a second delivery of one event under another webhook id is a
duplicate.
"""

from alembic import op
import sqlalchemy as sa

revision = '0015_inbox_integrity'
down_revision = '0013_failure_counts'
branch_labels = None
depends_on = None

SHOPIFY_BODIES_WHERE = "source = 'shopify' AND octet_length(body) > 0"
FAILED_WHERE = "outcome = 'failed'"


def upgrade() -> None:
    op.add_column('inbox_events', sa.Column('retry_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        'ix_inbox_events_failed', 'inbox_events', ['id'], unique=False,
        postgresql_where=sa.text(FAILED_WHERE),
    )
    op.create_index(
        'ix_inbox_events_shopify_bodies', 'inbox_events', ['processed_at'], unique=False,
        postgresql_where=sa.text(SHOPIFY_BODIES_WHERE),
    )
    op.add_column('shopify_webhook_deliveries', sa.Column('event_id', sa.String(length=255), nullable=True))
    op.create_unique_constraint(
        op.f('uq_shopify_webhook_deliveries_shop_id_topic_event_id'),
        'shopify_webhook_deliveries', ['shop_id', 'topic', 'event_id'],
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f('uq_shopify_webhook_deliveries_shop_id_topic_event_id'), 'shopify_webhook_deliveries', type_='unique'
    )
    op.drop_column('shopify_webhook_deliveries', 'event_id')
    op.drop_index('ix_inbox_events_shopify_bodies', table_name='inbox_events')
    op.drop_index('ix_inbox_events_failed', table_name='inbox_events')
    op.drop_column('inbox_events', 'retry_at')
