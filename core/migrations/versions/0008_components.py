"""components: a campaign's template components in Meta's shape

Revision ID: 0008_components
Revises: 0011_block

Header, body and button parameters of a campaign, as the draft gave them (literals, customer
fields with a fallback, media links, tracked destinations). The older body-only
``template_parameters`` stays for campaigns made before.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008_components'
down_revision = '0011_block'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('campaigns', sa.Column('template_components', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False))


def downgrade() -> None:
    op.drop_column('campaigns', 'template_components')
