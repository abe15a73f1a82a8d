"""order held_since

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 18:31:08.984187
"""

from alembic import op
import sqlalchemy as sa
import bot.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.add_column(sa.Column('held_since', bot.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_column('held_since')

