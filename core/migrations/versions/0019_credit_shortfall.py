"""credit shortfall: credit_movements.shortfall, the credits a settlement was owed and could
not take (core/outcomes/credits.py), and a check that a shop's balance is never below zero.
A balance already below zero (a late delivery settled before this revision) is brought back
to zero by a ``shortfall`` movement recording what it lacked, so the balance still equals
the ledger.

Revision ID: 0019_credit_shortfall
Revises: 0018_paid_orders_and_consent
"""

from alembic import op
import sqlalchemy as sa

revision = '0019_credit_shortfall'
down_revision = '0018_paid_orders_and_consent'
branch_labels = None
depends_on = None

_REPAIR = """
    WITH below AS (
        SELECT id, -credits AS owed FROM shops WHERE credits < 0 FOR UPDATE
    ), recorded AS (
        INSERT INTO credit_movements (shop_id, kind, amount, shortfall, note)
        SELECT id, 'shortfall', owed, owed,
               'the balance had gone below zero: what it lacked is recorded as a shortfall'
          FROM below
    )
    UPDATE shops SET credits = 0 FROM below WHERE shops.id = below.id
"""


def upgrade() -> None:
    op.add_column(
        'credit_movements',
        sa.Column('shortfall', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    )
    op.execute(_REPAIR)
    op.create_check_constraint(op.f('ck_shops_credits_not_negative'), 'shops', 'credits >= 0')


def downgrade() -> None:
    op.drop_constraint(op.f('ck_shops_credits_not_negative'), 'shops', type_='check')
    op.drop_column('credit_movements', 'shortfall')
