"""The operations of the spec's "Administration" section that steer the engine and its nodes:
maintenance levels, online flags, node states, and waiting for running processes to drain."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from ..features.history import audited
from ..support import clock
from ..features import maintenance
from ..support.clock import check_timeout, format_timestamp
from ..errors import InvalidParameter, NotFound
from .shared import timeout_seconds
from ..model.results import ClusterInfo, MaintenanceLevel, NodeState
from ..runtime.cluster.broadcast import NODES_CHANGED
from ..runtime.node import ProcessEngine
from ..security.authorization import Principal, require_admin
from ..model.states import NODE_SELECTIONS
from ..storage import nodes as node_store

WAIT_STATE_HANDLERS = ("timers", "lostInstances", "watchers")


def get_maintenance_level(pe: ProcessEngine, principal: Principal) -> MaintenanceLevel:
    require_admin(principal, "getMaintenanceLevel")
    with pe.db.unit_of_work(write=False) as uow:
        return maintenance.current(pe, uow.conn)


@audited("setMaintenanceLevel", "engine")
def set_maintenance_level(pe: ProcessEngine, principal: Principal, level_id: str) -> None:
    """Make `level_id` current and apply its online rule to every process instance, in one transaction.
    The level in force already is applied again, not refused: the call is repeatable (a PUT, CONTRACT
    §10), and it sets back what was switched by hand since."""
    require_admin(principal, "setMaintenanceLevel")
    wanted = maintenance.level(pe, (level_id or "").strip())
    with pe.db.unit_of_work() as uow:
        changed = maintenance.apply_online_rule(uow.conn, wanted.online)
        maintenance.store_level(uow.conn, wanted.id)
        uow.after_commit(lambda: _after_online_change(pe, changed, wanted.online == "allOnline"))
        uow.commit()


def _after_online_change(pe: ProcessEngine, changed: list[tuple[str, str | None, str]], online: bool) -> None:
    for execution_id, pool, state in changed:
        pe.notify(execution_id)
        if not online:
            pe.executor.signal(execution_id, refresh=True)  # a running driver lets go at its next step
        elif state == "READY":
            pe.ready(execution_id, pool)
    if online:
        pe.timer_set(None)


def get_node_state(pe: ProcessEngine, principal: Principal) -> NodeState:
    """The state of the node that answers."""
    require_admin(principal, "getNodeState")
    return _own_state(pe)


def get_node_states(pe: ProcessEngine, principal: Principal) -> list[NodeState]:
    """Every node registered now (this one with its live figures), oldest first."""
    require_admin(principal, "getNodeStates")
    with pe.db.unit_of_work(write=False) as uow:
        rows = node_store.all_nodes(uow.conn)
    since = pe.membership.fresh_since()
    # Another node's master flag is as old as its last beat: it counts within the lease of that beat, and
    # never beside this node's own mastership (the lock is one; the freshest word on it is this node's).
    master_since = None if pe.membership.believes_master() else clock.now() - timedelta(
        seconds=pe.membership.lease_s)
    states = [_own_state(pe) if row["node_id"] == pe.node_id else _stored_state(row, since, master_since)
              for row in rows]
    if not any(s.engine_id == pe.node_id for s in states):
        states.append(_own_state(pe))  # disconnected: not in the registry, yet it answers
    return states


def get_heartbeat_ages(pe: ProcessEngine, principal: Principal) -> dict[str, int]:
    """How long ago (ms) each registered node last wrote its heartbeat (the console's nodes; beyond the
    spec, whose nodeState carries none): a frozen node shows as one whose age grows."""
    require_admin(principal, "getNodeStates")
    with pe.db.unit_of_work(write=False) as uow:
        rows = node_store.all_nodes(uow.conn)
    now = clock.now()
    return {row["node_id"]: max(0, int((now - row["heartbeat_at"]).total_seconds() * 1000)) for row in rows}


def _own_state(pe: ProcessEngine) -> NodeState:
    membership = pe.membership
    master = membership.believes_master()
    cluster = ClusterInfo(membership.root_node, master, membership.status, membership.status_message,
                          WAIT_STATE_HANDLERS if master else ())
    return NodeState(pe.node_id, pe.online, pe.executor.running_count(), cluster)


def _stored_state(row: dict, since: datetime, master_since: datetime | None) -> NodeState:
    """Another node as its last heartbeat left it; one silent past cluster.lost_after_ms is gone
    (CONTRACT §9): shown as connectionLost and master of nothing until the master forgets it."""
    if row["heartbeat_at"] < since:
        cluster = ClusterInfo(f"nodes/{row['node_id']}", False, "connectionLost",
                              f"no heartbeat since {format_timestamp(row['heartbeat_at'])}", ())
        return NodeState(row["node_id"], bool(row["online"]), 0, cluster)
    master = bool(row["master"]) and master_since is not None and row["heartbeat_at"] >= master_since
    cluster = ClusterInfo(f"nodes/{row['node_id']}", master, "connected", None,
                          WAIT_STATE_HANDLERS if master else ())
    return NodeState(row["node_id"], bool(row["online"]), int(row["running"] or 0), cluster)


@audited("setEngineOnline", "node")
def set_engine_online(pe: ProcessEngine, principal: Principal, online: bool, param: str = "all",
                      nodes: Iterable[str] = ()) -> None:
    """Set nodes online or offline: `self`, `all`, or the `specified` ones. This one at once; the others
    when the notification reaches them, or at their next heartbeat if it does not."""
    require_admin(principal, "setEngineOnline")
    wanted = [n for item in nodes for n in item.split(",") if n.strip()]
    if param not in NODE_SELECTIONS:
        raise InvalidParameter("param", f"{param!r} is not one of {', '.join(NODE_SELECTIONS)}")
    if param == "specified" and not wanted:
        raise InvalidParameter("node", "name at least one node when param is 'specified'")
    if param != "self":
        with pe.db.unit_of_work() as uow:
            asked = node_store.request_online(uow.conn, wanted if param == "specified" else None, online,
                                              pe.node_id)
            missing = sorted(set(wanted) - set(asked) - {pe.node_id})
            if missing:
                raise NotFound("node", ", ".join(missing))
            if set(asked) - {pe.node_id}:
                uow.after_commit(lambda: pe.broadcast.send(NODES_CHANGED))  # or they see it at their heartbeat
            uow.commit()
        if param == "specified" and pe.node_id not in wanted:
            return
    pe.set_online(online)


def wait_for_no_running_processes(pe: ProcessEngine, principal: Principal, timeout: int = -1) -> int:
    """Wait until no process runs on this node (or the timeout); how many still run."""
    require_admin(principal, "waitForNoRunningProcesses")
    check_timeout(timeout)
    return pe.executor.wait_idle(timeout_seconds(pe, timeout))
