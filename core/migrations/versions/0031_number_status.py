"""number status: whatsapp_connections.number_status, the number's status as Meta reports it
(CONNECTED, PENDING, FLAGGED, RESTRICTED, DISCONNECTED, UNVERIFIED), kept at each check with Meta
and shown on Settings and on a campaign still to send

Revision ID: 0031_number_status
Revises: 0030_recent_failures
"""

from alembic import op
import sqlalchemy as sa

revision = '0031_number_status'
down_revision = '0030_recent_failures'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('whatsapp_connections', sa.Column('number_status', sa.String(32), nullable=True))


def downgrade() -> None:
    op.drop_column('whatsapp_connections', 'number_status')
