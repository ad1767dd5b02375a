"""indexes for a million instances: code point text on PostgreSQL, composite live indexes, the claimed set

- PostgreSQL: the text columns a query filters and sorts on compare by code point (the "C" collation),
  which the queries asked for with `COLLATE "C"` anyway (CONTRACT §5: one order on both databases): a
  sort by such a column now comes off its index, and `LIKE 'prefix%'` is an index range scan.
- (state, process_uri, created_at), (state, finished_at) and (owner, created_at) over the live instances
  replace the single-column state and owner indexes: a page of the usual shapes comes off one index in
  order, and its bounded total is counted in the index alone.
- The instances some node runs now or may run next (READY or RUNNING, healthy, live) have an index of
  their own, which the LOST sweep and the pick-up of READY instances read every round; before, they
  went through every LOST and RUNNING row, and on SQLite through every live one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 02:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

LIVE = sa.text("disposed_at IS NULL")
CODE_POINT = (("external_id", 255), ("process_uri", 1000), ("state", 16), ("health", 24), ("owner", 255),
              ("owner_node", 255), ("previous_node", 255))
COMPOSITE = (("state", "process_uri", "created_at"), ("state", "finished_at"), ("owner", "created_at"))
REPLACED = ("state", "owner")
CLAIMED = "disposed_at IS NULL AND health = 'OK' AND state IN ('READY', 'RUNNING')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column, length in CODE_POINT:  # rebuilds the column's indexes; the rows stay as they are
            op.execute(f'ALTER TABLE process_instances ALTER COLUMN {column} TYPE varchar({length}) COLLATE "C"')
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        for column in REPLACED:
            batch_op.drop_index(f'ix_process_instances_{column}')
        for columns in COMPOSITE:
            batch_op.create_index(f"ix_process_instances_{'_'.join(columns)}", list(columns), unique=False,
                                  sqlite_where=LIVE, postgresql_where=LIVE)
        batch_op.create_index('ix_process_instances_claimed', ['state', 'state_changed_at'], unique=False,
                              sqlite_where=sa.text(CLAIMED), postgresql_where=sa.text(CLAIMED))


def downgrade() -> None:
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instances_claimed')
        for columns in COMPOSITE:
            batch_op.drop_index(f"ix_process_instances_{'_'.join(columns)}")
        for column in REPLACED:
            batch_op.create_index(f'ix_process_instances_{column}', [column], unique=False,
                                  sqlite_where=LIVE, postgresql_where=LIVE)
    if op.get_bind().dialect.name == "postgresql":
        for column, length in CODE_POINT:
            op.execute(f'ALTER TABLE process_instances ALTER COLUMN {column} TYPE varchar({length}) COLLATE "default"')
