"""the names that may read a record carry its query fields, and an owner's records their end state, on indexes

- `findHistory` for a user who is no admin reads the records granted to their names apart from their
  own (issue 17). Through `history_readers (name)` alone the database looked up every record of the
  name and sorted them all before it could cut the page, and counted them one by one: 194-507 ms for
  a role that may read 10,000 of 10M records. Each reader row now carries its record's query fields,
  and the indexes (name, finishedAt, createdAt, executionId, owner, endState) and (name, createdAt,
  executionId, owner, endState) replace (name): the page reads as far down one of them as it reaches,
  and the total is counted off it.
- The records' index by owner and end gains the end state last: a user's own failures (and how many)
  are found on the index alone, not by reading each of their records (50,000 of 10M: 334 ms, then
  10 ms; building it took 15 s at 10M, while ends go on being staged).
- Rows already there take their record's fields (moved or still staged). A reader row whose record is
  nowhere could never be read (a page is read from the records) and goes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 13:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

OWNER_INDEX = ['owner', 'finished_at', 'created_at', 'execution_id']


def _code_point_text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation='C'), 'postgresql')


def _record_columns() -> list:
    """The record's query fields (0007's `process_history`), all but its ID, each nullable as there."""
    return [
        sa.Column('external_id', _code_point_text(255), nullable=True),
        sa.Column('process_uri', _code_point_text(1000), nullable=False),
        sa.Column('definition_version', sa.Integer(), nullable=True),
        sa.Column('owner', _code_point_text(255), nullable=False),
        sa.Column('parent_execution_id', _code_point_text(36), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=False),
        sa.Column('duration_ms', sa.BigInteger(), nullable=False),
        sa.Column('end_state', _code_point_text(16), nullable=False),
        sa.Column('exception_type', _code_point_text(255), nullable=True),
    ]


def upgrade() -> None:
    columns = _record_columns()
    names = [c.name for c in columns]
    for readers in ("history_readers", "history_readers_staged"):
        with op.batch_alter_table(readers, schema=None) as batch_op:
            for column in columns:  # (nullable until every row has its record's fields)
                batch_op.add_column(sa.Column(column.name, column.type, nullable=True))
        for records in ("process_history", "process_history_staged"):  # (both databases: UPDATE … FROM)
            op.execute(f"UPDATE {readers} SET " + ", ".join(f"{n} = r.{n}" for n in names)
                       + f" FROM {records} r WHERE r.execution_id = {readers}.execution_id"
                       + f" AND {readers}.finished_at IS NULL")
        op.execute(f"DELETE FROM {readers} WHERE finished_at IS NULL")
        with op.batch_alter_table(readers, schema=None) as batch_op:
            for column in columns:
                if not column.nullable:
                    batch_op.alter_column(column.name, existing_type=column.type, nullable=False)
    with op.batch_alter_table('history_readers', schema=None) as batch_op:
        batch_op.drop_index('ix_history_readers_name')
        batch_op.create_index('ix_history_readers_name_finished_at', ['name', 'finished_at', 'created_at',
                                                                      'execution_id', 'owner', 'end_state'])
        batch_op.create_index('ix_history_readers_name_created_at', ['name', 'created_at', 'execution_id', 'owner',
                                                                     'end_state'])
    with op.batch_alter_table('process_history', schema=None) as batch_op:
        batch_op.drop_index('ix_process_history_owner_finished_at')
        batch_op.create_index('ix_process_history_owner_finished_at', OWNER_INDEX + ['end_state'])


def downgrade() -> None:
    with op.batch_alter_table('process_history', schema=None) as batch_op:
        batch_op.drop_index('ix_process_history_owner_finished_at')
        batch_op.create_index('ix_process_history_owner_finished_at', OWNER_INDEX)
    with op.batch_alter_table('history_readers', schema=None) as batch_op:
        batch_op.drop_index('ix_history_readers_name_created_at')
        batch_op.drop_index('ix_history_readers_name_finished_at')
        batch_op.create_index('ix_history_readers_name', ['name'], unique=False)
    for readers in ("history_readers", "history_readers_staged"):
        with op.batch_alter_table(readers, schema=None) as batch_op:
            for column in _record_columns():
                batch_op.drop_column(column.name)
