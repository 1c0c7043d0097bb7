"""shopify schema: WhatsApp and SMS consent apart, consent write-back, bulk import, re-sync

Revision ID: 0007_shopify_schema
Revises: 0006_whatsapp

Customers keep Shopify's SMS consent beside the WhatsApp consent (``consent``) instead of
falling back on it; a shop chooses whether SMS consent counts (off by default). A stop Meta
reports waits in ``consent_writeback_at`` until Shopify has it. A shop remembers its running
bulk export and where the next incremental re-sync starts.
"""

from alembic import op
import sqlalchemy as sa

revision = '0007_shopify_schema'
down_revision = '0006_whatsapp'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('shops', sa.Column('sms_consent_counts', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column('shops', sa.Column('customers_bulk_operation_id', sa.String(length=128), nullable=True))
    op.add_column('shops', sa.Column('customers_resync_from', sa.DateTime(timezone=True), nullable=True))
    op.add_column('customers', sa.Column('sms_consent', sa.String(length=16), nullable=True))
    op.add_column('customers', sa.Column('sms_consent_updated_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('customers', sa.Column('consent_writeback_at', sa.DateTime(timezone=True), nullable=True))
    op.create_index('ix_customers_consent_writeback', 'customers', ['shop_id'], unique=False,
                    postgresql_where=sa.text('consent_writeback_at IS NOT NULL'))
    # A consent read from SMS was stored as the WhatsApp consent: move it where it belongs.
    op.execute(
        "UPDATE customers SET sms_consent = consent, sms_consent_updated_at = consent_updated_at,"
        " consent = 'UNKNOWN', consent_updated_at = NULL, consent_source = NULL"
        " WHERE consent_source = 'sms'"
    )


def downgrade() -> None:
    op.drop_index('ix_customers_consent_writeback', table_name='customers',
                  postgresql_where=sa.text('consent_writeback_at IS NOT NULL'))
    op.drop_column('customers', 'consent_writeback_at')
    op.drop_column('customers', 'sms_consent_updated_at')
    op.drop_column('customers', 'sms_consent')
    op.drop_column('shops', 'customers_resync_from')
    op.drop_column('shops', 'customers_bulk_operation_id')
    op.drop_column('shops', 'sms_consent_counts')
