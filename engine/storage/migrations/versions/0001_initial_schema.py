"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 00:59:28.350590
"""
from alembic import op
import sqlalchemy as sa



revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('definitions',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('uri', sa.String(length=1000), nullable=False),
    sa.Column('revision', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=True),
    sa.Column('origin', sa.String(length=16), nullable=False),
    sa.Column('changed_at', sa.DateTime(), nullable=False),
    sa.Column('source', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_definitions')),
    sa.UniqueConstraint('uri', 'revision', name=op.f('uq_definitions_uri_revision')),
    sa.UniqueConstraint('uri', 'version', name=op.f('uq_definitions_uri_version'))
    )
    op.create_table('nodes',
    sa.Column('node_id', sa.String(length=255), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('heartbeat_at', sa.DateTime(), nullable=False),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('node_id', name=op.f('pk_nodes'))
    )
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_nodes_heartbeat_at'), ['heartbeat_at'], unique=False)

    op.create_table('process_log',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('execution_id', sa.String(length=36), nullable=False),
    sa.Column('logged_at', sa.DateTime(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('element_id', sa.String(length=1000), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_log'))
    )
    with op.batch_alter_table('process_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_log_execution_id'), ['execution_id'], unique=False)

    op.create_table('process_instances',
    sa.Column('execution_id', sa.String(length=36), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('process_uri', sa.String(length=1000), nullable=False),
    sa.Column('definition_id', sa.Integer(), nullable=False),
    sa.Column('definition_name', sa.String(length=255), nullable=True),
    sa.Column('definition_location', sa.String(length=1000), nullable=False),
    sa.Column('definition_changed_at', sa.DateTime(), nullable=True),
    sa.Column('definition_version', sa.Integer(), nullable=False),
    sa.Column('definition_origin', sa.String(length=16), nullable=False),
    sa.Column('definition_revision', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('state_change_index', sa.Integer(), nullable=False),
    sa.Column('state_changed_at', sa.DateTime(), nullable=False),
    sa.Column('health', sa.String(length=24), nullable=False),
    sa.Column('health_message', sa.Text(), nullable=True),
    sa.Column('health_exception_type', sa.String(length=255), nullable=True),
    sa.Column('online', sa.Boolean(), nullable=False),
    sa.Column('debug', sa.Boolean(), nullable=False),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('auto_dispose', sa.String(length=16), nullable=False),
    sa.Column('thread_pool_id', sa.String(length=100), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('owner', sa.String(length=255), nullable=False),
    sa.Column('current_user', sa.String(length=255), nullable=False),
    sa.Column('current_roles', sa.Text(), nullable=False),
    sa.Column('permissions', sa.Text(), nullable=False),
    sa.Column('owner_node', sa.String(length=255), nullable=True),
    sa.Column('previous_node', sa.String(length=255), nullable=True),
    sa.Column('process_engine_id', sa.String(length=255), nullable=False),
    sa.Column('parent_execution_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('disposed_at', sa.DateTime(), nullable=True),
    sa.Column('state_format', sa.Integer(), nullable=False),
    sa.Column('current_element', sa.String(length=1000), nullable=True),
    sa.Column('position', sa.Text(), nullable=True),
    sa.Column('pipeline', sa.Text(), nullable=False),
    sa.Column('exception_report', sa.Text(), nullable=True),
    sa.Column('attributes', sa.Text(), nullable=False),
    sa.Column('instance_constants', sa.Text(), nullable=False),
    sa.Column('breakpoints', sa.Text(), nullable=False),
    sa.Column('log_settings', sa.Text(), nullable=False),
    sa.Column('terminate_request', sa.Text(), nullable=True),
    sa.Column('exec_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['definition_id'], ['definitions.id'], name=op.f('fk_process_instances_definition_id_definitions')),
    sa.PrimaryKeyConstraint('execution_id', name=op.f('pk_process_instances'))
    )
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_instances_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_process_instances_disposed_at', ['disposed_at'], unique=False, sqlite_where=sa.text('disposed_at IS NOT NULL'), postgresql_where=sa.text('disposed_at IS NOT NULL'))
        batch_op.create_index('ix_process_instances_external_id', ['external_id'], unique=False, sqlite_where=sa.text('external_id IS NOT NULL'), postgresql_where=sa.text('external_id IS NOT NULL'))
        batch_op.create_index(batch_op.f('ix_process_instances_finished_at'), ['finished_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instances_health'), ['health'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instances_owner'), ['owner'], unique=False)
        batch_op.create_index('ix_process_instances_owner_node', ['owner_node'], unique=False, sqlite_where=sa.text('owner_node IS NOT NULL'), postgresql_where=sa.text('owner_node IS NOT NULL'))
        batch_op.create_index('ix_process_instances_parent_execution_id', ['parent_execution_id'], unique=False, sqlite_where=sa.text('parent_execution_id IS NOT NULL'), postgresql_where=sa.text('parent_execution_id IS NOT NULL'))
        batch_op.create_index(batch_op.f('ix_process_instances_process_uri'), ['process_uri'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instances_state'), ['state'], unique=False)

    op.create_table('process_permissions',
    sa.Column('execution_id', sa.String(length=36), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('privilege', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['process_instances.execution_id'], name=op.f('fk_process_permissions_execution_id_process_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('execution_id', 'name', 'privilege', name=op.f('pk_process_permissions'))
    )
    with op.batch_alter_table('process_permissions', schema=None) as batch_op:
        batch_op.create_index('ix_process_permissions_name_privilege', ['name', 'privilege'], unique=False)

    op.create_table('wait_states',
    sa.Column('execution_id', sa.String(length=36), nullable=False),
    sa.Column('element_id', sa.String(length=1000), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('child_execution_id', sa.String(length=36), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['execution_id'], ['process_instances.execution_id'], name=op.f('fk_wait_states_execution_id_process_instances'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('execution_id', name=op.f('pk_wait_states'))
    )
    with op.batch_alter_table('wait_states', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_wait_states_child_execution_id'), ['child_execution_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_wait_states_due_at'), ['due_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('wait_states', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_wait_states_due_at'))
        batch_op.drop_index(batch_op.f('ix_wait_states_child_execution_id'))

    op.drop_table('wait_states')
    with op.batch_alter_table('process_permissions', schema=None) as batch_op:
        batch_op.drop_index('ix_process_permissions_name_privilege')

    op.drop_table('process_permissions')
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_instances_state'))
        batch_op.drop_index(batch_op.f('ix_process_instances_process_uri'))
        batch_op.drop_index('ix_process_instances_parent_execution_id', sqlite_where=sa.text('parent_execution_id IS NOT NULL'), postgresql_where=sa.text('parent_execution_id IS NOT NULL'))
        batch_op.drop_index('ix_process_instances_owner_node', sqlite_where=sa.text('owner_node IS NOT NULL'), postgresql_where=sa.text('owner_node IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_process_instances_owner'))
        batch_op.drop_index(batch_op.f('ix_process_instances_health'))
        batch_op.drop_index(batch_op.f('ix_process_instances_finished_at'))
        batch_op.drop_index('ix_process_instances_external_id', sqlite_where=sa.text('external_id IS NOT NULL'), postgresql_where=sa.text('external_id IS NOT NULL'))
        batch_op.drop_index('ix_process_instances_disposed_at', sqlite_where=sa.text('disposed_at IS NOT NULL'), postgresql_where=sa.text('disposed_at IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_process_instances_created_at'))

    op.drop_table('process_instances')
    with op.batch_alter_table('process_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_log_execution_id'))

    op.drop_table('process_log')
    with op.batch_alter_table('nodes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_nodes_heartbeat_at'))

    op.drop_table('nodes')
    op.drop_table('definitions')

