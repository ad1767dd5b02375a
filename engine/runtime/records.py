"""Building instance rows and the column values of state changes, shared by operations and executor."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from ..model.datastore import DataStore
from ..definitions.elements import Definition
from ..definitions.repository import LoadedDefinition
from ..errors import InvalidParameter
from ..support.ids import time_ordered_uuid
from ..model.states import ExecutionState
from ..storage import codec
from ..storage.instances import InstanceRecord


def state_values(record: InstanceRecord, state: ExecutionState, node_id: str, at: datetime) -> dict[str, Any]:
    """Columns for a change to `state`: the index grows by one and the change is stamped. The record
    itself is left alone; `apply` it once the change is committed."""
    values: dict[str, Any] = {"state": state.value, "state_change_index": record.state_change_index + 1,
                              "state_changed_at": at, "process_engine_id": node_id,
                              "exec_version": record.exec_version + 1}
    if state.ended:
        values["finished_at"] = at
    if state in (ExecutionState.READY, ExecutionState.RUNNING) and record.started_at is None:
        values["started_at"] = at
    return values


def apply(record: InstanceRecord, values: dict[str, Any]) -> InstanceRecord:
    """Bring the in-memory record in line with committed column values."""
    for key, value in values.items():
        setattr(record, key, value)
    return record


_EMPTY_STORE = codec.encode_store(DataStore())


def new_record(loaded: LoadedDefinition, registered: tuple[int, int], *, owner: str, roles: list[str],
               node_id: str, at: datetime, external_id: str | None, thread_pool_id: str | None,
               debug: bool, auto_dispose: str, locked: bool, log_settings: dict[str, Any],
               parent: str | None = None) -> InstanceRecord:
    """A CREATED instance of `loaded`, with every column set."""
    return InstanceRecord(
        execution_id=time_ordered_uuid(), external_id=external_id, process_uri=loaded.uri,
        definition_id=registered[0], definition_name=loaded.definition.name,
        definition_location=loaded.location, definition_changed_at=loaded.changed_at,
        definition_version=registered[1], definition_origin=loaded.origin,
        definition_revision=loaded.revision,
        state=ExecutionState.CREATED.value, state_change_index=0, state_changed_at=at, health="OK",
        health_message=None, health_exception_type=None, online=True, debug=debug, locked=locked,
        auto_dispose=auto_dispose, thread_pool_id=thread_pool_id, message=None, owner=owner,
        current_user=owner, current_roles=codec.dumps(roles), permissions="{}",
        owner_node=node_id if locked else None, previous_node=None, process_engine_id=node_id,
        parent_execution_id=parent, created_at=at, started_at=None, finished_at=None, disposed_at=None,
        state_format=codec.STATE_FORMAT, current_element=None, position=None,
        pipeline=_EMPTY_STORE, exception_report=None, attributes="{}", instance_constants=_EMPTY_STORE,
        breakpoints="[]",
        log_settings=codec.dumps(log_settings), terminate_request=None, exec_version=0)


def merge_parameters(definition: Definition | None, pipeline: DataStore, params: DataStore | None,
                     first_start: bool) -> DataStore:
    """The pipeline with `params` merged in; on the first start, declared defaults fill the gaps and a
    missing required parameter is an InvalidParameter."""
    merged = pipeline.copy()
    if params is not None:
        merged.update(params)
    if first_start and definition is not None:
        for declared in definition.parameters:
            if declared.name in merged:
                continue
            if declared.default is not None:
                merged.set(declared.name, [declared.default])
            elif declared.required:
                raise InvalidParameter(declared.name, "this parameter is required by the process definition")
    return merged
