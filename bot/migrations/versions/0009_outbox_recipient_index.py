"""outbox recipient index

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25 02:10:00.000000

The sender looks up a person's recent messages before sending a text (bot/outbox.py
`_same_words_before`: WeCom's duplicate check would drop a second, distinct message with the
same words); without this index that lookup read the whole outbox.
"""

from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_recipient', ['recipient', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_recipient')
