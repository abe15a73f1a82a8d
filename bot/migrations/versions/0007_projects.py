"""projects

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 20:07:10.640508
"""

from alembic import op
import sqlalchemy as sa
import bot.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('projects',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=True),
    sa.Column('leader_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('total_investment_yuan', sa.BigInteger(), nullable=False),
    sa.Column('annual_plan_yuan', sa.BigInteger(), nullable=False),
    sa.Column('plan_year', sa.Integer(), nullable=False),
    sa.Column('invested_before_yuan', sa.BigInteger(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("stage IN ('planning', 'signed', 'started', 'building', 'completed', 'operating')", name=op.f('ck_projects_stage_valid')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_projects_department_id_departments')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_projects_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['leader_id'], ['people.id'], name=op.f('fk_projects_leader_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_projects')),
    sa.UniqueConstraint('code', name=op.f('uq_projects_code'))
    )
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_projects_department_id'), ['department_id'], unique=False)

    op.create_table('project_members',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('is_lead', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_project_members_person_id_people')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_members_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_members')),
    sa.UniqueConstraint('project_id', 'person_id', name=op.f('uq_project_members_project_id'))
    )
    with op.batch_alter_table('project_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_members_person_id'), ['person_id'], unique=False)

    op.create_table('project_milestones',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('task', sa.String(length=200), nullable=False),
    sa.Column('planned_cumulative_yuan', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_milestones_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_milestones'))
    )
    with op.batch_alter_table('project_milestones', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_project_milestones_project_id'), ['project_id'], unique=False)

    op.create_table('project_monthly_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('preliminary', sa.Text(), nullable=False),
    sa.Column('funds_in_place_yuan', sa.BigInteger(), nullable=False),
    sa.Column('invested_yuan', sa.BigInteger(), nullable=False),
    sa.Column('progress', sa.Text(), nullable=False),
    sa.Column('problems', sa.Text(), nullable=False),
    sa.Column('measures', sa.Text(), nullable=False),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('reported_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('replaced_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_monthly_reports_project_id_projects')),
    sa.ForeignKeyConstraint(['reporter_id'], ['people.id'], name=op.f('fk_project_monthly_reports_reporter_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_monthly_reports'))
    )
    with op.batch_alter_table('project_monthly_reports', schema=None) as batch_op:
        batch_op.create_index('ix_monthly_project_month', ['project_id', 'month'], unique=False)
        batch_op.create_index('uq_monthly_in_force', ['project_id', 'month'], unique=True, postgresql_where=sa.text('replaced_at IS NULL'), sqlite_where=sa.text('replaced_at IS NULL'))

    op.create_table('project_weekly_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('week', sa.Date(), nullable=False),
    sa.Column('colour', sa.String(length=8), nullable=False),
    sa.Column('invested_yuan', sa.BigInteger(), nullable=False),
    sa.Column('progress', sa.Text(), nullable=False),
    sa.Column('problems', sa.Text(), nullable=False),
    sa.Column('help_needed', sa.Text(), nullable=False),
    sa.Column('objective_colour', sa.String(length=8), nullable=True),
    sa.Column('objective_reason', sa.String(length=200), nullable=True),
    sa.Column('reporter_id', sa.Integer(), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('reported_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('replaced_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("colour IN ('green', 'white', 'yellow', 'red')", name=op.f('ck_project_weekly_reports_colour_valid')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_project_weekly_reports_project_id_projects')),
    sa.ForeignKeyConstraint(['reporter_id'], ['people.id'], name=op.f('fk_project_weekly_reports_reporter_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_weekly_reports'))
    )
    with op.batch_alter_table('project_weekly_reports', schema=None) as batch_op:
        batch_op.create_index('ix_weekly_project_week', ['project_id', 'week'], unique=False)
        batch_op.create_index('ix_weekly_week', ['week'], unique=False)
        batch_op.create_index('uq_weekly_in_force', ['project_id', 'week'], unique=True, postgresql_where=sa.text('replaced_at IS NULL'), sqlite_where=sa.text('replaced_at IS NULL'))

    op.create_table('supervision_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=True),
    sa.Column('trigger', sa.String(length=32), nullable=False),
    sa.Column('problem', sa.Text(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('leader_id', sa.Integer(), nullable=True),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('drafted_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answer', sa.Text(), nullable=True),
    sa.Column('answered_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('answered_by_id', sa.Integer(), nullable=True),
    sa.Column('cleared_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('supervise', 'instruct')", name=op.f('ck_supervision_cards_kind_valid')),
    sa.CheckConstraint("status IN ('draft', 'issued', 'answered', 'cleared', 'dismissed')", name=op.f('ck_supervision_cards_status_valid')),
    sa.ForeignKeyConstraint(['answered_by_id'], ['people.id'], name=op.f('fk_supervision_cards_answered_by_id_people')),
    sa.ForeignKeyConstraint(['assignee_id'], ['people.id'], name=op.f('fk_supervision_cards_assignee_id_people')),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_supervision_cards_department_id_departments')),
    sa.ForeignKeyConstraint(['leader_id'], ['people.id'], name=op.f('fk_supervision_cards_leader_id_people')),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_supervision_cards_project_id_projects')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_cards')),
    sa.UniqueConstraint('number', name=op.f('uq_supervision_cards_number')),
    sa.UniqueConstraint('project_id', 'trigger', name=op.f('uq_supervision_cards_project_id'))
    )
    with op.batch_alter_table('supervision_cards', schema=None) as batch_op:
        batch_op.create_index('ix_cards_status_due', ['status', 'due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_supervision_cards_project_id'), ['project_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('supervision_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_cards_project_id'))
        batch_op.drop_index('ix_cards_status_due')

    op.drop_table('supervision_cards')
    with op.batch_alter_table('project_weekly_reports', schema=None) as batch_op:
        batch_op.drop_index('uq_weekly_in_force', postgresql_where=sa.text('replaced_at IS NULL'), sqlite_where=sa.text('replaced_at IS NULL'))
        batch_op.drop_index('ix_weekly_week')
        batch_op.drop_index('ix_weekly_project_week')

    op.drop_table('project_weekly_reports')
    with op.batch_alter_table('project_monthly_reports', schema=None) as batch_op:
        batch_op.drop_index('uq_monthly_in_force', postgresql_where=sa.text('replaced_at IS NULL'), sqlite_where=sa.text('replaced_at IS NULL'))
        batch_op.drop_index('ix_monthly_project_month')

    op.drop_table('project_monthly_reports')
    with op.batch_alter_table('project_milestones', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_milestones_project_id'))

    op.drop_table('project_milestones')
    with op.batch_alter_table('project_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_project_members_person_id'))

    op.drop_table('project_members')
    with op.batch_alter_table('projects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_projects_department_id'))

    op.drop_table('projects')
