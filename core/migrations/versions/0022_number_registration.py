"""number registration: the two-step verification PIN the app registered a brand-new number
with on the Cloud API (encrypted like the tokens, so key rotation re-encrypts it), and when
(core/whatsapp/registration.py); the number's display name review (``name_status``) as Meta
reported it

Revision ID: 0022_number_registration
Revises: 0021_credit_purchases
"""

from alembic import op
import sqlalchemy as sa

revision = '0022_number_registration'
down_revision = '0021_credit_purchases'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('whatsapp_connections', sa.Column('two_step_pin_ciphertext', sa.LargeBinary(), nullable=True))
    op.add_column(
        'whatsapp_connections', sa.Column('registered_at', sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column('whatsapp_connections', sa.Column('name_status', sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column('whatsapp_connections', 'name_status')
    op.drop_column('whatsapp_connections', 'registered_at')
    op.drop_column('whatsapp_connections', 'two_step_pin_ciphertext')
