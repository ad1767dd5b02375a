"""The statements of sanity checks, telemetry and garbage collection (`engine.features.diagnostics`): each
finding's query, built here and handed back unread, so that the engine says what a row means and how
many rows it lists (`first`, `count`)."""
from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import delete, func, or_, select
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql import Select

from ..model.states import END_STATES
from .instances import LIVE
from .tables import instances as i, nodes, process_log, wait_states as w, watchers

_ENDED = tuple(s.value for s in END_STATES)
_ACTIVE = ("READY", "RUNNING")


def first(conn: Connection, query: Select, limit: int) -> list[Row]:
    return conn.execute(query.limit(limit)).all()


def count(conn: Connection, query: Select) -> int:
    return conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one()


def _node_known(column: Any) -> Any:
    return select(nodes.c.node_id).where(nodes.c.node_id == column).exists()


# -- wait states -----------------------------------------------------------------------------------------
def stale_waits() -> Select:
    """Wait rows of no instance, a disposed one, or one not WAITING."""
    return (select(w.c.execution_id, w.c.element_id, w.c.kind, i.c.execution_id.label("found"), i.c.state,
                   i.c.disposed_at)
            .select_from(w.outerjoin(i, i.c.execution_id == w.c.execution_id))
            .where(or_(i.c.execution_id.is_(None), i.c.disposed_at.is_not(None), i.c.state != "WAITING"))
            .order_by(w.c.execution_id))


def waiting_without_wait() -> Select:
    return (select(i.c.execution_id, i.c.current_element)
            .where(LIVE, i.c.state == "WAITING",
                   ~select(w.c.execution_id).where(w.c.execution_id == i.c.execution_id).exists())
            .order_by(i.c.execution_id))


def waits_for_lost_children() -> Select:
    """Child waits of live WAITING parents whose child does not exist, is disposed or has ended."""
    child, parent = i.alias("child"), i.alias("parent")
    return (select(w.c.execution_id, w.c.element_id, w.c.child_execution_id,
                   child.c.execution_id.label("found"), child.c.state, child.c.disposed_at)
            .select_from(w.join(parent, parent.c.execution_id == w.c.execution_id)
                         .outerjoin(child, child.c.execution_id == w.c.child_execution_id))
            .where(w.c.kind == "child", parent.c.disposed_at.is_(None), parent.c.state == "WAITING",
                   or_(child.c.execution_id.is_(None), child.c.disposed_at.is_not(None), child.c.state.in_(_ENDED)))
            .order_by(w.c.execution_id))


def all_waits() -> Select:
    return select(w.c.execution_id, w.c.kind, w.c.element_id).order_by(w.c.execution_id)


def runnable_timers(due_before: Any | None) -> Select:
    """Timers of live, online, healthy WAITING instances: due before `due_before`, or (None) without
    a due time."""
    due = w.c.due_at.is_(None) if due_before is None else w.c.due_at < due_before
    query = (select(w.c.execution_id, w.c.element_id, w.c.due_at)
             .select_from(w.join(i, i.c.execution_id == w.c.execution_id))
             .where(w.c.kind == "timer", LIVE, i.c.online.is_(True), i.c.health == "OK", i.c.state == "WAITING", due))
    return query.order_by(w.c.execution_id) if due_before is None else query.order_by(w.c.due_at, w.c.execution_id)


# -- saved execution state -------------------------------------------------------------------------------
def paused_without_position() -> Select:
    return (select(i.c.execution_id, i.c.state, i.c.current_element)
            .where(LIVE, i.c.state.in_(("WAITING", "PAUSED")), i.c.position.is_(None)).order_by(i.c.execution_id))


def ended_with_position() -> Select:
    return (select(i.c.execution_id, i.c.state, i.c.disposed_at)
            .where(or_(i.c.state.in_(_ENDED), i.c.disposed_at.is_not(None)), i.c.position.is_not(None))
            .order_by(i.c.execution_id))


def unreadable_formats(readable: Sequence[int]) -> Select:
    return (select(i.c.execution_id, i.c.state_format)
            .where(LIVE, i.c.state_format.not_in(readable)).order_by(i.c.execution_id))


def positions_after(conn: Connection, after: str, limit: int) -> list[Row]:
    """The next `limit` live saved positions in execution ID order, after `after`."""
    return conn.execute(select(i.c.execution_id, i.c.position, i.c.health)
                        .where(LIVE, i.c.position.is_not(None), i.c.execution_id > after)
                        .order_by(i.c.execution_id).limit(limit)).all()


def stored_positions() -> Select:
    return select(i.c.execution_id, i.c.state).where(LIVE, i.c.position.is_not(None)).order_by(i.c.execution_id)


def position_sizes() -> Select:
    return (select(i.c.execution_id, i.c.state, i.c.health, i.c.current_element, i.c.owner_node,
                   func.length(i.c.position).label("size"))
            .where(LIVE, i.c.position.is_not(None)).order_by(i.c.execution_id))


# -- claims and nodes --------------------------------------------------------------------------------------
def running_unclaimed() -> Select:
    """Live RUNNING instances no node claims, or claimed by a node not registered."""
    return (select(i.c.execution_id, i.c.owner_node, i.c.health)
            .where(LIVE, i.c.state == "RUNNING", or_(i.c.owner_node.is_(None), ~_node_known(i.c.owner_node)))
            .order_by(i.c.execution_id))


def active_on_unknown_nodes() -> Select:
    return (select(i.c.execution_id, i.c.state, i.c.owner_node, i.c.health)
            .where(LIVE, i.c.state.in_(_ACTIVE), i.c.owner_node.is_not(None), ~_node_known(i.c.owner_node))
            .order_by(i.c.execution_id))


def active_instances() -> Select:
    return select(i.c.execution_id, i.c.state).where(LIVE, i.c.state.in_(_ACTIVE)).order_by(i.c.execution_id)


def live_instances() -> Select:
    return select(i.c.execution_id, i.c.state).where(LIVE).order_by(i.c.execution_id)


def disposed_count(conn: Connection) -> int:
    return conn.execute(select(func.count()).select_from(i).where(i.c.disposed_at.is_not(None))).scalar_one()


# -- signals ---------------------------------------------------------------------------------------------
def terminate_requests(ended_only: bool) -> Select:
    """Instances with a terminate request (`ended_only`: of those that ended or are disposed)."""
    query = select(i.c.execution_id, i.c.state, i.c.disposed_at, i.c.terminate_request).where(
        i.c.terminate_request.is_not(None))
    if ended_only:
        query = query.where(or_(i.c.state.in_(_ENDED), i.c.disposed_at.is_not(None)))
    return query.order_by(i.c.execution_id)


def all_wait_rows() -> Select:
    return select(w).order_by(w.c.execution_id)


# -- by key ------------------------------------------------------------------------------------------------
def instances_by_id(conn: Connection, ids: list[str], batch: int) -> dict[str, Row]:
    return _by_key(conn, i.c.execution_id, ids, (i.c.execution_id, i.c.disposed_at, i.c.state), batch)


def watchers_by_id(conn: Connection, ids: list[str], batch: int) -> dict[str, Row]:
    return _by_key(conn, watchers.c.id, ids, (watchers.c.id, watchers.c.execution_id, watchers.c.finished), batch)


def _by_key(conn: Connection, column: Any, keys: list[str], columns: tuple[Any, ...], batch: int) -> dict[str, Row]:
    """The rows whose `column` is one of `keys` (asked in batches), by that key."""
    found: dict[str, Row] = {}
    for start in range(0, len(keys), batch):
        for row in conn.execute(select(*columns).where(column.in_(keys[start:start + batch]))):
            found[row[0]] = row
    return found


# -- watchers and logs -------------------------------------------------------------------------------------
def obsolete_watchers(by_instance: bool = False) -> Select:
    """Unfinished watchers whose instance is gone or disposed, by watcher ID (or by instance)."""
    return (select(watchers.c.id, watchers.c.execution_id, i.c.execution_id.label("found"))
            .select_from(watchers.outerjoin(i, i.c.execution_id == watchers.c.execution_id))
            .where(watchers.c.finished.is_(False), or_(i.c.execution_id.is_(None), i.c.disposed_at.is_not(None)))
            .order_by(watchers.c.execution_id if by_instance else watchers.c.id))


def delete_orphan_logs(conn: Connection, limit: int) -> int:
    """Delete up to `limit` log rows of instances that no longer exist; how many."""
    orphaned = list(conn.execute(select(process_log.c.id)
                                 .where(~select(i.c.execution_id).where(i.c.execution_id == process_log.c.execution_id)
                                        .exists())
                                 .limit(limit)).scalars())
    if orphaned:
        conn.execute(delete(process_log).where(process_log.c.id.in_(orphaned)))
    return len(orphaned)
