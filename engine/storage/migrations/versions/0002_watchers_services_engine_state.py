"""watchers services engine state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 01:43:53.897910
"""
from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('engine_state',
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_engine_state'))
    )
    op.create_table('service_instances',
    sa.Column('service_id', sa.String(length=255), nullable=False),
    sa.Column('execution_id', sa.String(length=36), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('service_id', name=op.f('pk_service_instances'))
    )
    op.create_table('watchers',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('execution_id', sa.String(length=36), nullable=False),
    sa.Column('group_id', sa.String(length=255), nullable=True),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('conditions', sa.Text(), nullable=False),
    sa.Column('peek', sa.Boolean(), nullable=False),
    sa.Column('inspect_pipeline', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('finished', sa.Boolean(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('captured', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_watchers'))
    )
    with op.batch_alter_table('watchers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_watchers_execution_id'), ['execution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_watchers_finished'), ['finished'], unique=False)

    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('master', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('running', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('requested_online', sa.Boolean(), nullable=True))




def downgrade() -> None:
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.drop_column('requested_online')
        batch_op.drop_column('running')
        batch_op.drop_column('master')

    with op.batch_alter_table('watchers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_watchers_finished'))
        batch_op.drop_index(batch_op.f('ix_watchers_execution_id'))

    op.drop_table('watchers')
    op.drop_table('service_instances')
    op.drop_table('engine_state')

