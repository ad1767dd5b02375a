"""the history: one record per process, the elements it passed, and the operation log (issue 17)

- `process_history` keeps a process's record after the process is gone, written in the transaction
  that ends it; `history_readers` the names that may read it besides its owner;
  `history_health_changes` its health changes (LOST, recovered), written while it lives;
  `history_days` what each closed day's records add up to, per processUri, for statistics.
- `history_trails` keeps the elements a process passed (history level `activity`), a row a save.
- `operation_log` keeps each state-changing call through either door, refused ones too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 00:09:49.235660
"""
from alembic import op
import sqlalchemy as sa



revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def _record_columns() -> list:
    return [
        sa.Column('execution_id', sa.String(length=36).with_variant(sa.String(length=36, collation='C'), 'postgresql'), nullable=False),
        sa.Column('external_id', sa.String(length=255).with_variant(sa.String(length=255, collation='C'), 'postgresql'), nullable=True),
        sa.Column('process_uri', sa.String(length=1000).with_variant(sa.String(length=1000, collation='C'), 'postgresql'), nullable=False),
        sa.Column('definition_version', sa.Integer(), nullable=True),
        sa.Column('owner', sa.String(length=255).with_variant(sa.String(length=255, collation='C'), 'postgresql'), nullable=False),
        sa.Column('parent_execution_id', sa.String(length=36).with_variant(sa.String(length=36, collation='C'), 'postgresql'), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('started_at', sa.DateTime(), nullable=True),
        sa.Column('finished_at', sa.DateTime(), nullable=False),
        sa.Column('duration_ms', sa.BigInteger(), nullable=False),
        sa.Column('end_state', sa.String(length=16).with_variant(sa.String(length=16, collation='C'), 'postgresql'), nullable=False),
        sa.Column('message', sa.Text(), nullable=True),
        sa.Column('exception_type', sa.String(length=255).with_variant(sa.String(length=255, collation='C'), 'postgresql'), nullable=True),
        sa.Column('exception_source', sa.Text(), nullable=True),
        sa.Column('nodes', sa.Text(), nullable=False),
        sa.Column('pipeline', sa.Text(), nullable=True),
        sa.Column('recorded_at', sa.DateTime(), nullable=False),
    ]


def _reader_columns() -> list:
    return [
        sa.Column('execution_id', sa.String(length=36).with_variant(sa.String(length=36, collation='C'), 'postgresql'), nullable=False),
        sa.Column('name', sa.String(length=255), nullable=False),
    ]


def _operation_columns() -> list:
    return [
        sa.Column('at', sa.DateTime(), nullable=False),
        sa.Column('user_name', sa.String(length=255).with_variant(sa.String(length=255, collation='C'), 'postgresql'), nullable=False),
        sa.Column('operation', sa.String(length=64).with_variant(sa.String(length=64, collation='C'), 'postgresql'), nullable=False),
        sa.Column('target_kind', sa.String(length=32), nullable=False),
        sa.Column('target', sa.String(length=1000).with_variant(sa.String(length=1000, collation='C'), 'postgresql'), nullable=True),
        sa.Column('outcome', sa.String(length=16).with_variant(sa.String(length=16, collation='C'), 'postgresql'), nullable=False),
        sa.Column('parameters', sa.Text(), nullable=False),
        sa.Column('node', sa.String(length=255), nullable=True),
        sa.Column('message', sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table('history_trails',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('execution_id', sa.String(length=36).with_variant(sa.String(length=36, collation='C'), 'postgresql'), nullable=False),
    sa.Column('node', sa.String(length=255), nullable=True),
    sa.Column('visits', sa.Text(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history_trails'))
    )
    with op.batch_alter_table('history_trails', schema=None) as batch_op:
        batch_op.create_index('ix_history_trails_execution_id_id', ['execution_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_history_trails_recorded_at'), ['recorded_at'], unique=False)

    op.create_table('operation_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    *_operation_columns(),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operation_log'))
    )
    with op.batch_alter_table('operation_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operation_log_at'), ['at'], unique=False)
        batch_op.create_index('ix_operation_log_target_at', ['target', 'at'], unique=False)
        batch_op.create_index('ix_operation_log_user_name_at', ['user_name', 'at'], unique=False)

    op.create_table('process_history',
    *_record_columns(),
    sa.PrimaryKeyConstraint('execution_id', name=op.f('pk_process_history'))
    )
    with op.batch_alter_table('process_history', schema=None) as batch_op:
        batch_op.create_index('ix_process_history_external_id', ['external_id'], unique=False, sqlite_where=sa.text('external_id IS NOT NULL'), postgresql_where=sa.text('external_id IS NOT NULL'))
        batch_op.create_index('ix_process_history_finished_at', ['finished_at', 'created_at', 'execution_id'], unique=False)
        batch_op.create_index('ix_process_history_owner_finished_at', ['owner', 'finished_at', 'created_at', 'execution_id'], unique=False)
        batch_op.create_index('ix_process_history_process_uri_duration_ms', ['process_uri', 'duration_ms', 'created_at', 'execution_id'], unique=False)
        batch_op.create_index('ix_process_history_parent_execution_id', ['parent_execution_id'], unique=False, sqlite_where=sa.text('parent_execution_id IS NOT NULL'), postgresql_where=sa.text('parent_execution_id IS NOT NULL'))
        batch_op.create_index('ix_process_history_process_uri_end_state_finished_at', ['process_uri', 'end_state', 'finished_at', 'created_at', 'execution_id'], unique=False)

    op.create_table('history_days',
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('process_uri', sa.String(length=1000).with_variant(sa.String(length=1000, collation='C'), 'postgresql'), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.Column('longest_ms', sa.BigInteger(), nullable=False),
    sa.Column('durations', sa.Text(), nullable=False),
    sa.Column('elements', sa.Text(), nullable=True),
    sa.Column('rolled_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('day', 'process_uri', name=op.f('pk_history_days'))
    )

    op.create_table('history_health_changes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('execution_id', sa.String(length=36).with_variant(sa.String(length=36, collation='C'), 'postgresql'), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('health', sa.String(length=32), nullable=False),
    sa.Column('node', sa.String(length=255), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('nodes', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_history_health_changes'))
    )
    with op.batch_alter_table('history_health_changes', schema=None) as batch_op:
        batch_op.create_index('ix_history_health_changes_execution_id_id', ['execution_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_history_health_changes_at'), ['at'], unique=False)

    op.create_table('history_readers',
    *_reader_columns(),
    sa.PrimaryKeyConstraint('execution_id', 'name', name=op.f('pk_history_readers'))
    )
    with op.batch_alter_table('history_readers', schema=None) as batch_op:
        batch_op.create_index('ix_history_readers_name', ['name'], unique=False)


    # what ends and calls write first, moved over in batches (engine.storage.history.move_staged)
    for name, columns in (("process_history", _record_columns), ("history_readers", _reader_columns),
                          ("operation_log", _operation_columns)):
        op.create_table(f"{name}_staged",
                        sa.Column('stage_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
                                  nullable=False),
                        *columns(),
                        sa.PrimaryKeyConstraint('stage_id', name=op.f(f'pk_{name}_staged')))


def downgrade() -> None:
    for name in ("process_history", "history_readers", "operation_log"):
        op.drop_table(f"{name}_staged")
    with op.batch_alter_table('history_readers', schema=None) as batch_op:
        batch_op.drop_index('ix_history_readers_name')

    op.drop_table('history_readers')
    op.drop_table('history_health_changes')
    op.drop_table('history_days')
    with op.batch_alter_table('process_history', schema=None) as batch_op:
        batch_op.drop_index('ix_process_history_process_uri_end_state_finished_at')
        batch_op.drop_index('ix_process_history_process_uri_duration_ms')
        batch_op.drop_index('ix_process_history_owner_finished_at')
        batch_op.drop_index('ix_process_history_parent_execution_id', sqlite_where=sa.text('parent_execution_id IS NOT NULL'), postgresql_where=sa.text('parent_execution_id IS NOT NULL'))
        batch_op.drop_index('ix_process_history_finished_at')
        batch_op.drop_index('ix_process_history_external_id', sqlite_where=sa.text('external_id IS NOT NULL'), postgresql_where=sa.text('external_id IS NOT NULL'))

    op.drop_table('process_history')
    with op.batch_alter_table('operation_log', schema=None) as batch_op:
        batch_op.drop_index('ix_operation_log_user_name_at')
        batch_op.drop_index('ix_operation_log_target_at')
        batch_op.drop_index(batch_op.f('ix_operation_log_at'))

    op.drop_table('operation_log')
    with op.batch_alter_table('history_trails', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_history_trails_recorded_at'))
        batch_op.drop_index('ix_history_trails_execution_id_id')

    op.drop_table('history_trails')
