"""inspections: quiet policies, inspections, lenient items

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24 17:51:02.832416
"""

from alembic import op
import sqlalchemy as sa
import bot.db


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('lenient_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('field', sa.String(length=50), nullable=False),
    sa.Column('violation', sa.Text(), nullable=False),
    sa.Column('basis', sa.Text(), nullable=False),
    sa.Column('conditions', sa.Text(), nullable=False),
    sa.Column('measure', sa.Text(), nullable=True),
    sa.Column('created_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lenient_items')),
    sa.UniqueConstraint('code', name=op.f('uq_lenient_items_code'))
    )
    op.create_table('quiet_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('effective_from', sa.Date(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('created_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['people.id'], name=op.f('fk_quiet_policies_created_by_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quiet_policies')),
    sa.UniqueConstraint('effective_from', name=op.f('uq_quiet_policies_effective_from'))
    )
    op.create_table('inspections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('registered_by_id', sa.Integer(), nullable=False),
    sa.Column('planned_on', sa.Date(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('rule_text', sa.Text(), nullable=False),
    sa.Column('next_allowed_on', sa.Date(), nullable=True),
    sa.Column('policy_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('joint_key', sa.String(length=32), nullable=True),
    sa.Column('result', sa.Text(), nullable=True),
    sa.Column('lenient_codes', sa.JSON(), nullable=False),
    sa.Column('rating', sa.String(length=8), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('created_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint("outcome IN ('allowed', 'exempt', 'blocked')", name=op.f('ck_inspections_outcome_valid')),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'blocked', 'cancelled', 'done')", name=op.f('ck_inspections_status_valid')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['people.id'], name=op.f('fk_inspections_decided_by_id_people')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_inspections_department_id_departments')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_inspections_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['policy_id'], ['quiet_policies.id'], name=op.f('fk_inspections_policy_id_quiet_policies')),
    sa.ForeignKeyConstraint(['registered_by_id'], ['people.id'], name=op.f('fk_inspections_registered_by_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspections')),
    sa.UniqueConstraint('number', name=op.f('uq_inspections_number'))
    )
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.create_index('ix_inspections_day_status', ['planned_on', 'status'], unique=False)
        batch_op.create_index('ix_inspections_department_day', ['department_id', 'planned_on'], unique=False)
        batch_op.create_index('ix_inspections_enterprise_day', ['enterprise_id', 'planned_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_inspections_joint_key'), ['joint_key'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('inspections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspections_joint_key'))
        batch_op.drop_index('ix_inspections_enterprise_day')
        batch_op.drop_index('ix_inspections_department_day')
        batch_op.drop_index('ix_inspections_day_status')

    op.drop_table('inspections')
    op.drop_table('quiet_policies')
    op.drop_table('lenient_items')
