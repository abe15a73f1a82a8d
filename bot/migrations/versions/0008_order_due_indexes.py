"""order due indexes

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24 23:30:00.000000

bench/deadlines.py on 1,000,000 orders: the sweep's due query read each due order's row after the
index (one page per order, scattered over the table: twice the cost per item at 1M as at 10k);
the new index holds only armed orders and every column it reads, so the table is not touched.
Counting the overdue orders (state IN the open states) read the whole table: state is indexed now.
"""

from alembic import op
import sqlalchemy as sa
import bot.db


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_work_orders_alarm_at')
        batch_op.create_index('ix_work_orders_alarm', ['alarm_at', 'alarm_rung', 'id'], unique=False, postgresql_where=sa.text('alarm_at IS NOT NULL'), sqlite_where=sa.text('alarm_at IS NOT NULL'))
        batch_op.create_index('ix_work_orders_state', ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_work_orders_state')
        batch_op.drop_index('ix_work_orders_alarm', postgresql_where=sa.text('alarm_at IS NOT NULL'), sqlite_where=sa.text('alarm_at IS NOT NULL'))
        batch_op.create_index('ix_work_orders_alarm_at', ['alarm_at'], unique=False)
