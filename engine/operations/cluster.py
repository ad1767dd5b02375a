"""The operations of the spec's "Cluster Control" section, for this node.

Disconnecting stops this node taking work, gives its running processes up to `timeout` to finish,
hands the rest back as READY for other nodes (or this one, once it connects again), and leaves the
node registry; connecting joins it again.
"""
from __future__ import annotations

from ..features.history import audited
from ..support.clock import check_timeout
from .shared import timeout_seconds
from ..model.results import NodeState
from ..runtime.node import ProcessEngine
from ..security.authorization import Principal, require_admin
from .node_control import _own_state


@audited("clusterConnect", "node")
def cluster_connect(pe: ProcessEngine, principal: Principal, timeout: int = -1) -> NodeState:
    require_admin(principal, "clusterConnect")
    check_timeout(timeout)
    pe.membership.join()
    pe.housekeeper.nudge()
    return _own_state(pe)


@audited("clusterDisconnect", "node")
def cluster_disconnect(pe: ProcessEngine, principal: Principal, timeout: int = -1) -> NodeState:
    require_admin(principal, "clusterDisconnect")
    check_timeout(timeout)
    pe.membership.begin_disconnect()
    if pe.executor.wait_idle(timeout_seconds(pe, timeout)):
        pe.executor.release_all()
        pe.executor.wait_idle(timeout_seconds(pe, -1))
    pe.membership.disconnect()
    return _own_state(pe)
