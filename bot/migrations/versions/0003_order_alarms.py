"""order alarms, photos; leaders' oversight

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 17:24:37.838665
"""

import sqlalchemy as sa
from alembic import op

import bot.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oversight",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_oversight_department_id_departments")
        ),
        sa.ForeignKeyConstraint(["leader_id"], ["people.id"], name=op.f("fk_oversight_leader_id_people")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_oversight")),
        sa.UniqueConstraint("leader_id", "department_id", name=op.f("uq_oversight_leader_id")),
    )
    with op.batch_alter_table("oversight", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_oversight_department_id"), ["department_id"], unique=False)

    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("photos", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("alarm_at", bot.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("alarm_rung", sa.String(length=16), nullable=True))
        batch_op.create_index("ix_work_orders_alarm_at", ["alarm_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_work_orders_alarm_at")
        batch_op.drop_column("alarm_rung")
        batch_op.drop_column("alarm_at")
        batch_op.drop_column("photos")

    with op.batch_alter_table("oversight", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_oversight_department_id"))

    op.drop_table("oversight")
