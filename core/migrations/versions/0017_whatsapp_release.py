"""whatsapp release: whatsapp_connections.release_token_ciphertext, the Meta token of a number
the shop disconnected (or of a shop that uninstalled the app), kept encrypted only until our app
is unsubscribed from the WABA's webhooks (core/whatsapp/release.py)

Revision ID: 0017_whatsapp_release
Revises: 0016_privacy_jobs
"""

from alembic import op
import sqlalchemy as sa

revision = '0017_whatsapp_release'
down_revision = '0016_privacy_jobs'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('whatsapp_connections', sa.Column('release_token_ciphertext', sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column('whatsapp_connections', 'release_token_ciphertext')
