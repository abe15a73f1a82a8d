"""work orders: 诉求 work_orders, their order_events register, routing_rules

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 16:04:20.797400
"""

from alembic import op
import sqlalchemy as sa
import bot.db


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('routing_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_routing_rules_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules')),
    sa.UniqueConstraint('category', name=op.f('uq_routing_rules_category'))
    )
    op.create_table('work_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('filed_by_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('urgency', sa.String(length=8), nullable=False),
    sa.Column('clock_mode', sa.String(length=16), nullable=False),
    sa.Column('holding_department_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('filed_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('dispatched_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('pickup_due_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('picked_up_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('solve_due_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('extension_requested_until', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('extended_until', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('resolved_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('closed_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rating', sa.String(length=8), nullable=True),
    sa.Column('rework_count', sa.Integer(), nullable=False),
    sa.Column('auto_closed', sa.Boolean(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("clock_mode IN ('natural', 'working')", name=op.f('ck_work_orders_clock_mode_valid')),
    sa.CheckConstraint("rating IS NULL OR rating IN ('满意', '基本满意', '不满意')", name=op.f('ck_work_orders_rating_valid')),
    sa.CheckConstraint("state IN ('dispatched', 'picked_up', 'returned', 'resolved', 'closed')", name=op.f('ck_work_orders_state_valid')),
    sa.CheckConstraint("urgency IN ('普通', '紧急')", name=op.f('ck_work_orders_urgency_valid')),
    sa.CheckConstraint('rework_count >= 0', name=op.f('ck_work_orders_rework_count_valid')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_work_orders_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['filed_by_id'], ['people.id'], name=op.f('fk_work_orders_filed_by_id_people')),
    sa.ForeignKeyConstraint(['holding_department_id'], ['departments.id'], name=op.f('fk_work_orders_holding_department_id_departments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_orders')),
    sa.UniqueConstraint('number', name=op.f('uq_work_orders_number'))
    )
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.create_index('ix_work_orders_enterprise_filed', ['enterprise_id', 'filed_at'], unique=False)
        batch_op.create_index('ix_work_orders_holder_state', ['holding_department_id', 'state'], unique=False)

    op.create_table('order_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.CheckConstraint("action IN ('file', 'dispatch', 'pickup', 'transfer', 'return', 'return_decided', 'extend_requested', 'extend_approved', 'extend_rejected', 'resolve', 'rate', 'reopen', 'auto_close', 'remind', 'escalate')", name=op.f('ck_order_events_action_valid')),
    sa.CheckConstraint("from_state IS NULL OR from_state IN ('dispatched', 'picked_up', 'returned', 'resolved', 'closed')", name=op.f('ck_order_events_from_state_valid')),
    sa.CheckConstraint("to_state IS NULL OR to_state IN ('dispatched', 'picked_up', 'returned', 'resolved', 'closed')", name=op.f('ck_order_events_to_state_valid')),
    sa.ForeignKeyConstraint(['actor_id'], ['people.id'], name=op.f('fk_order_events_actor_id_people')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_order_events_department_id_departments')),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], name=op.f('fk_order_events_order_id_work_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_events'))
    )
    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.create_index('ix_order_events_at', ['at'], unique=False)
        batch_op.create_index('ix_order_events_order', ['order_id', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('order_events', schema=None) as batch_op:
        batch_op.drop_index('ix_order_events_order')
        batch_op.drop_index('ix_order_events_at')

    op.drop_table('order_events')
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_index('ix_work_orders_holder_state')
        batch_op.drop_index('ix_work_orders_enterprise_filed')

    op.drop_table('work_orders')
    op.drop_table('routing_rules')
