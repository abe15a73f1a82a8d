"""policies

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 18:23:36.057813
"""

from alembic import op
import sqlalchemy as sa
import bot.db


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('current', sa.Boolean(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('issuer', sa.String(length=100), nullable=False),
    sa.Column('doc_number', sa.String(length=100), nullable=False),
    sa.Column('level', sa.String(length=4), nullable=False),
    sa.Column('valid_from', sa.Date(), nullable=False),
    sa.Column('valid_to', sa.Date(), nullable=True),
    sa.Column('benefit', sa.Text(), nullable=False),
    sa.Column('amount_wan', sa.Double(), nullable=True),
    sa.Column('mode', sa.String(length=8), nullable=False),
    sa.Column('how_to', sa.Text(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('contact', sa.String(length=200), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=True),
    sa.Column('conditions', sa.JSON(), nullable=False),
    sa.Column('examples', sa.JSON(), nullable=False),
    sa.Column('published_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.CheckConstraint("level IN ('国家', '省', '市', '县')", name=op.f('ck_policies_level_valid')),
    sa.CheckConstraint("mode IN ('免申即享', '即申即享', '申报')", name=op.f('ck_policies_mode_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policies')),
    sa.UniqueConstraint('code', 'version', name=op.f('uq_policies_code'))
    )
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.create_index('ix_policies_valid', ['valid_from', 'valid_to'], unique=False)

    op.create_table('policy_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('asked_by_id', sa.Integer(), nullable=True),
    sa.Column('asked_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('results', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['asked_by_id'], ['people.id'], name=op.f('fk_policy_answers_asked_by_id_people')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_policy_answers_enterprise_id_enterprises')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_answers'))
    )
    with op.batch_alter_table('policy_answers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_answers_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('policy_pushes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('inputs', sa.JSON(), nullable=False),
    sa.Column('pushed_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('confirmed_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_at', bot.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('delivered_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pushed', 'confirmed', 'declined', 'delivered')", name=op.f('ck_policy_pushes_status_valid')),
    sa.ForeignKeyConstraint(['delivered_by_id'], ['people.id'], name=op.f('fk_policy_pushes_delivered_by_id_people')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_policy_pushes_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['policy_id'], ['policies.id'], name=op.f('fk_policy_pushes_policy_id_policies')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy_pushes')),
    sa.UniqueConstraint('policy_id', 'enterprise_id', name=op.f('uq_policy_pushes_policy_id'))
    )
    with op.batch_alter_table('policy_pushes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_policy_pushes_enterprise_id'), ['enterprise_id'], unique=False)

    op.create_table('profile_values',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enterprise_id', sa.Integer(), nullable=False),
    sa.Column('attribute', sa.String(length=32), nullable=False),
    sa.Column('value', sa.JSON(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('given_by_id', sa.Integer(), nullable=True),
    sa.Column('given_at', bot.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("source IN ('enterprise', 'official', 'import')", name=op.f('ck_profile_values_source_valid')),
    sa.ForeignKeyConstraint(['enterprise_id'], ['enterprises.id'], name=op.f('fk_profile_values_enterprise_id_enterprises')),
    sa.ForeignKeyConstraint(['given_by_id'], ['people.id'], name=op.f('fk_profile_values_given_by_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_profile_values'))
    )
    with op.batch_alter_table('profile_values', schema=None) as batch_op:
        batch_op.create_index('ix_profile_values_enterprise_attribute', ['enterprise_id', 'attribute', 'id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('profile_values', schema=None) as batch_op:
        batch_op.drop_index('ix_profile_values_enterprise_attribute')

    op.drop_table('profile_values')
    with op.batch_alter_table('policy_pushes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_pushes_enterprise_id'))

    op.drop_table('policy_pushes')
    with op.batch_alter_table('policy_answers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_policy_answers_enterprise_id'))

    op.drop_table('policy_answers')
    with op.batch_alter_table('policies', schema=None) as batch_op:
        batch_op.drop_index('ix_policies_valid')

    op.drop_table('policies')
