"""The operations of the spec's "Process Watchers" section (CONTRACT §10: stored, outliving restarts)."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from ..features.history import audited
from ..support import clock
from ..errors import AuthorizationError, InvalidParameter, NotFound
from ..support.ids import time_ordered_uuid
from ..support.clock import check_timeout
from .shared import definition_of, load, timeout_seconds
from ..model.results import WatchConditions, Watcher
from ..runtime.node import ProcessEngine
from ..runtime.watching import capture, encode_conditions, waiter_key
from ..security.authorization import Principal, has_privilege
from .snapshots import snapshot_of
from ..model.states import ExecutionState, HealthState, Privilege, parse_enum
from ..storage import instances as store, watchers as watcher_rows


@audited("createWatcher", "execution", "execution_id")
def create_watcher(pe: ProcessEngine, principal: Principal, execution_id: str, *, group_id: str | None = None,
                   expected_states: Iterable[str] = (), expected_online: bool | None = None,
                   expected_state_change_index: int | None = None, expected_health: Iterable[str] = (),
                   expected_element: str | None = None, peek: bool = False,
                   inspect_pipeline: bool = True) -> Watcher:
    """Watch an instance until every given expectation holds — or it ends or is disposed, whichever
    comes first. A watcher whose expectations hold already finishes at once."""
    conditions = WatchConditions(
        tuple(parse_enum(ExecutionState, s.strip().upper(), "expectedState").value for s in _items(expected_states)),
        expected_online, expected_state_change_index,
        tuple(parse_enum(HealthState, h.strip().upper(), "expectedHealthState").value for h in _items(expected_health)),
        expected_element or None)
    watcher_id = time_ordered_uuid()
    with pe.db.unit_of_work() as uow:
        record = load(uow.conn, principal, execution_id, Privilege.READ)
        if conditions.element and conditions.element not in definition_of(pe, uow.conn, record).definition.elements:
            raise NotFound("element", conditions.element)
        watcher_rows.insert_watcher(
            uow.conn, id=watcher_id, execution_id=execution_id, group_id=group_id or None, owner=principal.name,
            conditions=encode_conditions(conditions), peek=peek, inspect_pipeline=inspect_pipeline,
            created_at=clock.now(), finished=False, finished_at=None, captured=None)
        finished = pe.watching.finish_met(uow.conn, execution_id, record, only=watcher_id)
        uow.after_commit(lambda: pe.watching.add(execution_id) if not finished else None)
        uow.commit()
    return get_watcher(pe, principal, watcher_id)


def get_watcher(pe: ProcessEngine, principal: Principal, watcher_id: str, *, timeout: int | None = None,
                finish: bool = False) -> Watcher:
    """The watcher now, or once finished if it finishes within `timeout` ms. With `finish`, a watcher
    still open after the timeout is finished with the instance as it then stands."""
    check_timeout(timeout)
    row = _read(pe, principal, watcher_id)
    if not row.finished and timeout:
        row = pe.waiters.wait(waiter_key(watcher_id), lambda: _read(pe, principal, watcher_id),
                              lambda r: r.finished, timeout_seconds(pe, timeout))
    if not row.finished and finish:
        with pe.db.unit_of_work() as uow:
            record = store.get_instance(uow.conn, row.execution_id, include_disposed=True)
            capture(uow.conn, watcher_id, record)
            uow.commit()
        row = _read(pe, principal, watcher_id)
    return _watcher(row)


@audited("deleteWatcher", "watcher", "watcher_id")
def delete_watcher(pe: ProcessEngine, principal: Principal, watcher_id: str) -> bool:
    """True if the watcher existed and is deleted now, False if there was none."""
    with pe.db.unit_of_work() as uow:
        row = watcher_rows.get_watcher(uow.conn, watcher_id)
        if row is None:
            return False
        _require_access(pe, uow.conn, principal, row)
        watcher_rows.delete_watcher(uow.conn, watcher_id)
        uow.commit()
    pe.wake(waiter_key(watcher_id))
    return True


def _read(pe: ProcessEngine, principal: Principal, watcher_id: str):  # type: ignore[no-untyped-def]
    with pe.db.unit_of_work(write=False) as uow:
        row = watcher_rows.get_watcher(uow.conn, watcher_id)
        if row is None:
            raise NotFound("watcher", watcher_id)
        _require_access(pe, uow.conn, principal, row)
    return row


def _require_access(pe: ProcessEngine, conn, principal: Principal, row) -> None:  # type: ignore[no-untyped-def]
    """An admin, or whoever may read the instance it watches (CONTRACT §8: watchers are `read`), a
    disposed one included — having created the watcher is no grant: a revoked reader must not go on
    reading the instance through it. Only once the instance is purged does its creator alone keep it."""
    if principal.is_admin:
        return
    record = store.get_instance(conn, row.execution_id, include_disposed=True)
    allowed = has_privilege(principal, record, Privilege.READ) if record is not None else row.owner == principal.name
    if not allowed:
        raise AuthorizationError(principal.name, Privilege.READ.value, "processWatcher", row.id)


def _watcher(row) -> Watcher:  # type: ignore[no-untyped-def]
    snapshot = None
    if row.finished and row.captured:
        snapshot = snapshot_of(store.record_from_json(row.captured), row.inspect_pipeline, at=row.finished_at)
        if not row.inspect_pipeline:  # the watcher was told not to capture it, whatever the state
            snapshot = replace(snapshot, pipeline=None)
    return Watcher(row.id, row.execution_id, row.group_id, row.finished, snapshot)


def _items(values: Iterable[str] | str | None) -> list[str]:
    """A list parameter given as items, or as one comma-separated item (CONTRACT §2)."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    items = [part for value in values for part in value.split(",") if part.strip()]
    if any(not isinstance(v, str) for v in items):
        raise InvalidParameter("expectedState", "must be names")
    return items

