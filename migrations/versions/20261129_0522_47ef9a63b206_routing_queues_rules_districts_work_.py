"""routing: queues, rules, districts, work items, offers, SLA clocks, presence, incidents

Revision ID: 47ef9a63b206
Revises: 1b9aae8d6264
Create Date: 2026-11-29 05:22:05.746298
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '47ef9a63b206'
down_revision: str | None = '1b9aae8d6264'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('agent_presence_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('presence', sa.String(length=16), nullable=False),
    sa.Column('previous', sa.String(length=16), nullable=False),
    sa.Column('changed_by_agent_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_presence_changes_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['changed_by_agent_id'], ['agents.id'], name=op.f('fk_agent_presence_changes_changed_by_agent_id_agents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_presence_changes'))
    )
    with op.batch_alter_table('agent_presence_changes', schema=None) as batch_op:
        batch_op.create_index('ix_agent_presence_changes_agent_created', ['agent_id', 'created_at'], unique=False)

    op.create_table('business_calendars',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_business_calendars_jurisdiction_id_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_business_calendars')),
    sa.UniqueConstraint('jurisdiction_id', 'code', name=op.f('uq_business_calendars_jurisdiction_id_code'))
    )
    with op.batch_alter_table('business_calendars', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_business_calendars_jurisdiction_id'), ['jurisdiction_id'], unique=False)

    op.create_table('districts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('layer', sa.String(length=32), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('geometry', sa.JSON(), nullable=False),
    sa.Column('min_lon', sa.Float(), nullable=False),
    sa.Column('min_lat', sa.Float(), nullable=False),
    sa.Column('max_lon', sa.Float(), nullable=False),
    sa.Column('max_lat', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_districts_jurisdiction_id_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_districts')),
    sa.UniqueConstraint('jurisdiction_id', 'code', name=op.f('uq_districts_jurisdiction_id_code'))
    )
    with op.batch_alter_table('districts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_districts_jurisdiction_id'), ['jurisdiction_id'], unique=False)

    op.create_table('routing_rule_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('source', sa.JSON(), nullable=False),
    sa.Column('saved_by_agent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_routing_rule_sets_jurisdiction_id_jurisdictions')),
    sa.ForeignKeyConstraint(['saved_by_agent_id'], ['agents.id'], name=op.f('fk_routing_rule_sets_saved_by_agent_id_agents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rule_sets')),
    sa.UniqueConstraint('jurisdiction_id', 'version', name=op.f('uq_routing_rule_sets_jurisdiction_id_version'))
    )
    op.create_table('queues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('strategy', sa.Enum('longest_idle', 'least_busy', 'round_robin', name='strategy', native_enum=False, length=16), nullable=False),
    sa.Column('offer_timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('is_supervisor', sa.Boolean(), nullable=False),
    sa.Column('last_agent_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['departments.id'], name=op.f('fk_queues_department_id_departments')),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_queues_jurisdiction_id_jurisdictions')),
    sa.ForeignKeyConstraint(['last_agent_id'], ['agents.id'], name=op.f('fk_queues_last_agent_id_agents')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queues')),
    sa.UniqueConstraint('jurisdiction_id', 'code', name=op.f('uq_queues_jurisdiction_id_code'))
    )
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_queues_jurisdiction_id'), ['jurisdiction_id'], unique=False)

    op.create_table('agent_queues',
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_queues_agent_id_agents'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_agent_queues_queue_id_queues'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('agent_id', 'queue_id', name=op.f('pk_agent_queues'))
    )
    op.create_table('incidents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('service_type_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('active', 'resolved', name='incidentstatus', native_enum=False, length=16), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('radius_m', sa.Float(), nullable=False),
    sa.Column('case_count', sa.Integer(), nullable=False),
    sa.Column('announcement', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_incidents_jurisdiction_id_jurisdictions')),
    sa.ForeignKeyConstraint(['service_type_id'], ['service_types.id'], name=op.f('fk_incidents_service_type_id_service_types')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incidents'))
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_jurisdiction_status', ['jurisdiction_id', 'status'], unique=False)

    op.create_table('sla_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('calendar_id', sa.Integer(), nullable=True),
    sa.Column('first_response_minutes', sa.Integer(), nullable=True),
    sa.Column('resolution_minutes', sa.Integer(), nullable=True),
    sa.Column('warn_percent', sa.Integer(), nullable=False),
    sa.Column('escalate_queue_id', sa.Integer(), nullable=True),
    sa.Column('escalate_priority', sa.String(length=16), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['calendar_id'], ['business_calendars.id'], name=op.f('fk_sla_policies_calendar_id_business_calendars')),
    sa.ForeignKeyConstraint(['escalate_queue_id'], ['queues.id'], name=op.f('fk_sla_policies_escalate_queue_id_queues')),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_sla_policies_jurisdiction_id_jurisdictions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sla_policies')),
    sa.UniqueConstraint('jurisdiction_id', 'code', name=op.f('uq_sla_policies_jurisdiction_id_code'))
    )
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sla_policies_jurisdiction_id'), ['jurisdiction_id'], unique=False)

    op.create_table('case_clocks',
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('policy_id', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('first_response_warn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_response_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_warn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolution_due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('stopped_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('warned', sa.JSON(), nullable=False),
    sa.Column('breached', sa.JSON(), nullable=False),
    sa.Column('next_check_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_case_clocks_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_case_clocks_jurisdiction_id_jurisdictions')),
    sa.ForeignKeyConstraint(['policy_id'], ['sla_policies.id'], name=op.f('fk_case_clocks_policy_id_sla_policies')),
    sa.PrimaryKeyConstraint('case_id', name=op.f('pk_case_clocks'))
    )
    with op.batch_alter_table('case_clocks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_case_clocks_next_check_at'), ['next_check_at'], unique=False)

    op.create_table('work_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('kind', sa.Enum('first_response', 'call', 'chat', 'escalation', name='workkind', native_enum=False, length=16), nullable=False),
    sa.Column('channel', sa.Enum('sms', 'voice', 'webchat', 'email', 'walk_in', name='channel', native_enum=False, length=16), nullable=False),
    sa.Column('queue_id', sa.Integer(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('required_skills', sa.JSON(), nullable=False),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('targets', sa.JSON(), nullable=False),
    sa.Column('target_index', sa.Integer(), nullable=False),
    sa.Column('target_started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('target_deadline_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.Enum('waiting', 'offered', 'assigned', 'completed', 'cancelled', name='workstate', native_enum=False, length=16), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_work_items_agent_id_agents')),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_work_items_case_id_cases')),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_work_items_jurisdiction_id_jurisdictions')),
    sa.ForeignKeyConstraint(['queue_id'], ['queues.id'], name=op.f('fk_work_items_queue_id_queues')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_items'))
    )
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.create_index('ix_work_items_agent_state', ['agent_id', 'state'], unique=False)
        batch_op.create_index('ix_work_items_queue_order', ['jurisdiction_id', 'state', 'priority', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_items_target_deadline_at'), ['target_deadline_at'], unique=False)
        batch_op.create_index('uq_work_items_live_case_kind', ['case_id', 'kind'], unique=True, postgresql_where=sa.text("state IN ('waiting', 'offered', 'assigned')"), sqlite_where=sa.text("state IN ('waiting', 'offered', 'assigned')"))

    op.create_table('offers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('jurisdiction_id', sa.Integer(), nullable=False),
    sa.Column('work_item_id', sa.Integer(), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'accepted', 'declined', 'timed_out', 'cancelled', name='offerstate', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_offers_agent_id_agents')),
    sa.ForeignKeyConstraint(['jurisdiction_id'], ['jurisdictions.id'], name=op.f('fk_offers_jurisdiction_id_jurisdictions')),
    sa.ForeignKeyConstraint(['work_item_id'], ['work_items.id'], name=op.f('fk_offers_work_item_id_work_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers'))
    )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.create_index('ix_offers_agent_state', ['agent_id', 'state'], unique=False)
        batch_op.create_index('ix_offers_state_expires', ['state', 'expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_offers_work_item_id'), ['work_item_id'], unique=False)
        batch_op.create_index('uq_offers_pending_work_item', ['work_item_id'], unique=True, postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('skills', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('capacity', sa.JSON(), server_default='{}', nullable=False))
        batch_op.add_column(sa.Column('presence', sa.Enum('available', 'busy', 'away', 'offline', name='presence', native_enum=False, length=16), server_default='offline', nullable=False))
        batch_op.add_column(sa.Column('presence_changed_at', sa.DateTime(timezone=True), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False))
        batch_op.add_column(sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routing_rule', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('duplicate_status', sa.Enum('suspected', 'confirmed', 'rejected', name='duplicatestatus', native_enum=False, length=16), nullable=True))
        batch_op.add_column(sa.Column('incident_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_duplicate_of_id'), ['duplicate_of_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_incident_id'), ['incident_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_cases_duplicate_of_id_cases'), 'cases', ['duplicate_of_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_cases_incident_id_incidents'), 'incidents', ['incident_id'], ['id'])

    with op.batch_alter_table('jurisdictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('routing_version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('settings', sa.JSON(), server_default='{}', nullable=False))

    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('flags', sa.JSON(), server_default='[]', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_column('flags')

    with op.batch_alter_table('jurisdictions', schema=None) as batch_op:
        batch_op.drop_column('settings')
        batch_op.drop_column('routing_version')

    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_cases_incident_id_incidents'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_cases_duplicate_of_id_cases'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_cases_incident_id'))
        batch_op.drop_index(batch_op.f('ix_cases_duplicate_of_id'))
        batch_op.drop_column('incident_id')
        batch_op.drop_column('duplicate_status')
        batch_op.drop_column('duplicate_of_id')
        batch_op.drop_column('routing_rule')

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_column('last_assigned_at')
        batch_op.drop_column('presence_changed_at')
        batch_op.drop_column('presence')
        batch_op.drop_column('capacity')
        batch_op.drop_column('skills')

    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_index('uq_offers_pending_work_item', postgresql_where=sa.text("state = 'pending'"), sqlite_where=sa.text("state = 'pending'"))
        batch_op.drop_index(batch_op.f('ix_offers_work_item_id'))
        batch_op.drop_index('ix_offers_state_expires')
        batch_op.drop_index('ix_offers_agent_state')

    op.drop_table('offers')
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.drop_index('uq_work_items_live_case_kind', postgresql_where=sa.text("state IN ('waiting', 'offered', 'assigned')"), sqlite_where=sa.text("state IN ('waiting', 'offered', 'assigned')"))
        batch_op.drop_index(batch_op.f('ix_work_items_target_deadline_at'))
        batch_op.drop_index('ix_work_items_queue_order')
        batch_op.drop_index('ix_work_items_agent_state')

    op.drop_table('work_items')
    with op.batch_alter_table('case_clocks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_case_clocks_next_check_at'))

    op.drop_table('case_clocks')
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sla_policies_jurisdiction_id'))

    op.drop_table('sla_policies')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_jurisdiction_status')

    op.drop_table('incidents')
    op.drop_table('agent_queues')
    with op.batch_alter_table('queues', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_queues_jurisdiction_id'))

    op.drop_table('queues')
    op.drop_table('routing_rule_sets')
    with op.batch_alter_table('districts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_districts_jurisdiction_id'))

    op.drop_table('districts')
    with op.batch_alter_table('business_calendars', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_business_calendars_jurisdiction_id'))

    op.drop_table('business_calendars')
    with op.batch_alter_table('agent_presence_changes', schema=None) as batch_op:
        batch_op.drop_index('ix_agent_presence_changes_agent_created')

    op.drop_table('agent_presence_changes')
