"""citus keys: a deleted customer's messages lose their customer_id through the app
(core/shopify/customers.py) instead of through ON DELETE SET NULL, which Citus refuses on a
foreign key that includes the distribution column (shop_id)

Revision ID: 0023_citus_keys
Revises: 0022_number_registration
"""

from alembic import op

revision = '0023_citus_keys'
down_revision = '0022_number_registration'
branch_labels = None
depends_on = None

_NAME = 'fk_messages_shop_id_customer_id_customers'


def _recreate(ondelete: str | None) -> None:
    op.drop_constraint(_NAME, 'messages', type_='foreignkey')
    # NOT VALID, then VALIDATE: the check of every row takes a lock that lets writes through.
    op.create_foreign_key(
        _NAME, 'messages', 'customers', ['shop_id', 'customer_id'], ['shop_id', 'id'],
        ondelete=ondelete, postgresql_not_valid=True,
    )
    op.execute(f'ALTER TABLE messages VALIDATE CONSTRAINT {_NAME}')


def upgrade() -> None:
    _recreate(None)


def downgrade() -> None:
    _recreate('SET NULL (customer_id)')
