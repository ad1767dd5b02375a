"""a staged record carries the operation-log row of the call it ended in

- A `run` answered at its end (and disposed) wrote its record and the call's log row as two staged
  rows, a transaction of two INSERTs; now one row of `process_history_staged` holds both, one INSERT
  committed by itself, and the mover puts the call in `operation_log` (issue 17: the history's cost
  to such a run).
- Downgrade stages the calls staged records carry as rows of their own first, so none is lost.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 16:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def _code_point_text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation='C'), 'postgresql')


def _call_columns() -> list:
    """The operation log's columns (0007's `operation_log`) but its ID, all nullable: most records carry none."""
    return [
        sa.Column('at', sa.DateTime(), nullable=True),
        sa.Column('user_name', _code_point_text(255), nullable=True),
        sa.Column('operation', _code_point_text(64), nullable=True),
        sa.Column('target_kind', sa.String(length=32), nullable=True),
        sa.Column('target', _code_point_text(1000), nullable=True),
        sa.Column('outcome', _code_point_text(16), nullable=True),
        sa.Column('parameters', sa.Text(), nullable=True),
        sa.Column('node', sa.String(length=255), nullable=True),
        sa.Column('message', sa.Text(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table('process_history_staged', schema=None) as batch_op:
        for column in _call_columns():
            batch_op.add_column(sa.Column(f'call_{column.name}', column.type, nullable=True))


def downgrade() -> None:
    names = [c.name for c in _call_columns()]
    op.execute(f"INSERT INTO operation_log_staged ({', '.join(names)}) SELECT "
               + ", ".join(f"call_{n}" for n in names) + " FROM process_history_staged WHERE call_operation IS NOT NULL"
               + " ORDER BY stage_id")
    with op.batch_alter_table('process_history_staged', schema=None) as batch_op:
        for name in names:
            batch_op.drop_column(f'call_{name}')
