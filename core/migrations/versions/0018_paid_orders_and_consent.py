"""paid orders and consent: whether each order is a test and its financial status, so revenue
counts only real, paid orders (core/rules/order_states.py); where a customer's WhatsApp consent
came from, named for what it was (Shopify, a WhatsApp stop, a resume); what Shopify answered
when it refused a stop written back, with when to try again; and customers by number, as a stop
inside WhatsApp reaches every customer of the shop with that number

Revision ID: 0018_paid_orders_and_consent
Revises: 0017_whatsapp_release
"""

from alembic import op
import sqlalchemy as sa

revision = '0018_paid_orders_and_consent'
down_revision = '0017_whatsapp_release'
branch_labels = None
depends_on = None

# Until now every stored order that was not cancelled counted: the defaults keep saying so for
# them ('paid', not a test) until Shopify's next orders/updated says otherwise.
#
# "whatsapp" was the only source: Shopify's WhatsApp consent. A customer with a stop still to
# write back got there by a stop inside WhatsApp. A stop already written back cannot be told
# from Shopify's own UNSUBSCRIBED any more, and is left as Shopify's: the safe side, a resume
# inside WhatsApp does not bring that customer back.
_SOURCES = """
    UPDATE customers
       SET consent_source = CASE WHEN consent_writeback_at IS NOT NULL THEN 'whatsapp_stop'
                                 ELSE 'shopify' END
     WHERE consent_source = 'whatsapp' OR (consent_source IS NULL AND consent_writeback_at IS NOT NULL)
"""
_SOURCES_BACK = """
    UPDATE customers SET consent_source = 'whatsapp'
     WHERE consent_source IN ('shopify', 'whatsapp_stop', 'whatsapp_resume')
"""


def upgrade() -> None:
    op.add_column('orders', sa.Column('test', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.add_column(
        'orders', sa.Column('financial_status', sa.String(length=32), server_default='paid', nullable=False)
    )
    op.add_column('customers', sa.Column('consent_writeback_refused', sa.Text(), nullable=True))
    op.add_column('customers', sa.Column('consent_writeback_retry_at', sa.DateTime(timezone=True), nullable=True))
    op.execute(_SOURCES)
    op.create_index('ix_customers_shop_id_phone_e164', 'customers', ['shop_id', 'phone_e164'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_customers_shop_id_phone_e164', table_name='customers')
    op.execute(_SOURCES_BACK)
    op.drop_column('customers', 'consent_writeback_retry_at')
    op.drop_column('customers', 'consent_writeback_refused')
    op.drop_column('orders', 'financial_status')
    op.drop_column('orders', 'test')
