"""an index per sortable field over the live instances; execution IDs compared by code point on PostgreSQL

- A query may sort by any field and page deep into the result (issue 15). Each field a query sorts by
  gets an index of (field, createdAt, executionId) over the live instances, led by `field IS NULL`
  where the field may be empty: both databases then sort NULLs alike off the index, in either
  direction (the tie-breakers now go the way the last criterion goes). The single-column indexes of
  createdAt, processUri and health, and (owner, createdAt), are subsumed and dropped. The composite
  indexes of the common shapes, (state, processUri) by createdAt and state by finishedAt, gain the
  tie-breakers the same way (SQLite otherwise sorts every match of a split `in`: 60 ms at 1M).
- PostgreSQL: execution IDs, wherever they are stored, compare by code point (the "C" collation), as
  the query's order has it: a sort by executionId reads the primary key, and joins between the
  columns compare under one collation.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 16:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

LIVE = sa.text("disposed_at IS NULL")
EXECUTION_IDS = (("process_instances", "execution_id"), ("process_instances", "parent_execution_id"),
                 ("process_permissions", "execution_id"), ("wait_states", "execution_id"),
                 ("wait_states", "child_execution_id"), ("process_log", "execution_id"),
                 ("watchers", "execution_id"), ("service_instances", "execution_id"),
                 ("idempotency_keys", "execution_id"))
NEVER_EMPTY = ("created_at", "state", "owner", "process_uri", "online", "health")
MAY_BE_EMPTY = ("external_id", "previous_node", "owner_node", "started_at", "finished_at")
SUBSUMED = (("created_at",), ("process_uri",), ("health",), ("owner", "created_at"))
COMPOSITE = (("state", "process_uri", "created_at"), ("state", "finished_at"))  # each: its equalities, then its sort


def _sort_columns(column: str, within: tuple[str, ...] = ()) -> list:
    ties = ["execution_id"] if column == "created_at" else ["created_at", "execution_id"]
    lead = [] if column in NEVER_EMPTY else [sa.text(f"({column} IS NULL)")]
    return [*within, *lead, column, *ties]


def _collate(collation: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table, column in EXECUTION_IDS:  # rebuilds the column's indexes; the rows stay as they are
            op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar(36) COLLATE "{collation}"')


def upgrade() -> None:
    _collate("C")
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        for columns in SUBSUMED + COMPOSITE:
            batch_op.drop_index(f"ix_process_instances_{'_'.join(columns)}")
        for column in NEVER_EMPTY + MAY_BE_EMPTY:
            batch_op.create_index(f"ix_process_instances_{column}_sorted", _sort_columns(column), unique=False,
                                  sqlite_where=LIVE, postgresql_where=LIVE)
        for *within, column in COMPOSITE:
            batch_op.create_index(f"ix_process_instances_{'_'.join((*within, column))}_sorted",
                                  _sort_columns(column, tuple(within)), unique=False,
                                  sqlite_where=LIVE, postgresql_where=LIVE)


def downgrade() -> None:
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        for column in NEVER_EMPTY + MAY_BE_EMPTY:
            batch_op.drop_index(f"ix_process_instances_{column}_sorted")
        for columns in COMPOSITE:
            batch_op.drop_index(f"ix_process_instances_{'_'.join(columns)}_sorted")
        for columns in SUBSUMED + COMPOSITE:
            batch_op.create_index(f"ix_process_instances_{'_'.join(columns)}", list(columns), unique=False,
                                  sqlite_where=LIVE, postgresql_where=LIVE)
    _collate("default")
