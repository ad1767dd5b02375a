"""The operations of the spec's "Process State Queries" section."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from ..model.datastore import DataStore
from ..features.history import audited
from ..support.clock import check_timeout
from .shared import WaitFor, await_and_deliver, deliver, load
from ..model.results import ParameterInfo, Snapshot, SnapshotList, ValidationResult
from ..model.query import Query
from ..runtime.node import ProcessEngine
from ..security.authorization import Principal
from .snapshots import snapshot_of
from ..model.states import END_STATES, Privilege
from ..storage import codec, instances as store
from . import selection
from .lifecycle_management import load_for_caller


def get_attributes(pe: ProcessEngine, principal: Principal, execution_id: str,
                   names: Iterable[str] | None = None) -> dict[str, str]:
    with pe.db.unit_of_work(write=False) as uow:
        record = load(uow.conn, principal, execution_id, Privilege.READ, for_update=False)
    attributes = codec.loads(record.attributes, {})
    wanted = list(names or ())
    return {n: attributes[n] for n in wanted if n in attributes} if wanted else attributes


def get_instance_constants(pe: ProcessEngine, principal: Principal, execution_id: str) -> DataStore:
    with pe.db.unit_of_work(write=False) as uow:
        record = load(uow.conn, principal, execution_id, Privilege.READ, for_update=False)
    return codec.decode_store(record.instance_constants)


@audited("getProcessSnapshot", "execution", "execution_id", when_it_changes=True)  # (a fetch disposes)
def get_process_snapshot(pe: ProcessEngine, principal: Principal, execution_id: str, *, peek: bool = False,
                         inspect_pipeline: bool = False) -> Snapshot:
    with pe.db.unit_of_work(write=False) as uow:
        record = load(uow.conn, principal, execution_id, Privilege.READ, for_update=False)
    return deliver(pe, record, peek, inspect_pipeline)


def find_executions(pe: ProcessEngine, principal: Principal, query: Query | None = None, *,
                    inspect_pipeline: bool = False) -> SnapshotList:
    """One page of the instances the query matches that the caller may read (no query: all of those),
    in SQL, with the total before paging — exact up to `query.count_limit`, a lower bound past it."""
    query = query if query is not None else selection.EVERYTHING
    with pe.db.unit_of_work(write=False) as uow:
        records = selection.select_page(pe, uow.conn, principal, query)
        total, lower_bound = selection.bounded_total(pe, uow.conn, principal, query)
    return SnapshotList(tuple(snapshot_of(r, inspect_pipeline) for r in records), total, lower_bound)


def count_executions(pe: ProcessEngine, principal: Principal, query: Query | None = None) -> int:
    """The exact number of instances the query matches that the caller may read (`POST /processes/count`);
    the query's sort, offset and limit do not change it."""
    query = query if query is not None else selection.EVERYTHING
    where = selection.matching(principal, query)
    with pe.db.unit_of_work(write=False) as uow:
        return store.count_instances(uow.conn, where)


def validate(pe: ProcessEngine, principal: Principal, process_uri: str | None = None, *, cache: bool = True,
             process: bytes | None = None) -> ValidationResult:
    """Name, declared parameters and element IDs of a definition, or InvalidDefinition with position."""
    loaded = load_for_caller(pe, principal, process_uri, cache, process)
    definition = loaded.definition
    parameters = tuple(ParameterInfo(p.name, p.type, p.required) for p in definition.parameters)
    return ValidationResult(loaded.uri, definition.name, parameters, tuple(definition.elements))


@audited("waitForProcess", "execution", "execution_id", when_it_changes=True)
def wait_for_process(pe: ProcessEngine, principal: Principal, execution_id: str, *, timeout: int = -1,
                     peek: bool = False, after_timestamp: datetime | None = None, inspect_pipeline: bool = False,
                     states: Iterable[str] | None = None, wait_online: bool | None = None,
                     state_change_index: int | None = None) -> Snapshot:
    check_timeout(timeout)
    with pe.db.unit_of_work(write=False) as uow:
        load(uow.conn, principal, execution_id, Privilege.READ, for_update=False)
    condition = WaitFor.of(states, wait_online, END_STATES, after_index=state_change_index,
                           after_time=after_timestamp)
    return await_and_deliver(pe, execution_id, condition, timeout, peek, inspect_pipeline)
