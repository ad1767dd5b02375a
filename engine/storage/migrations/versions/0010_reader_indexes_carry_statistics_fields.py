"""on PostgreSQL the indexes a reader's records are found by carry the processUri and duration

- The statistics of a user who is no admin read their own records down the index by owner and end,
  and those granted them down the readers' index by name and end (revision 0008). Both then fetched
  each record (or reader row) for its processUri and duration: 0.57 s for 50,000 of a user's records
  in a 30-day window at 10M. With the two as INCLUDE columns the window is read off the indexes
  alone. SQLite has no INCLUDE: nothing changes there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 16:30:00
"""
from alembic import op


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

INDEXES = (('process_history', 'ix_process_history_owner_finished_at',
            ['owner', 'finished_at', 'created_at', 'execution_id', 'end_state']),
           ('history_readers', 'ix_history_readers_name_finished_at',
            ['name', 'finished_at', 'created_at', 'execution_id', 'owner', 'end_state']))
CARRIED = ['process_uri', 'duration_ms']


def _rebuild(include: list) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, name, columns in INDEXES:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, columns, postgresql_include=include)


def upgrade() -> None:
    _rebuild(CARRIED)


def downgrade() -> None:
    _rebuild([])
