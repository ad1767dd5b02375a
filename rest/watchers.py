"""REST endpoints of the spec's "Process Watchers" section (CONTRACT §10: /watchers, /watcher alias)."""
from __future__ import annotations

from flask import Blueprint

from engine import operations as ops
from engine.states import HEALTH_NAMES
from schemas.results import WATCHER

from .arguments import STATES, TIMEOUT
from .endpoint import Answer, endpoint
from .params import Param

bp = Blueprint("watchers", __name__)
WATCHER_ANSWER = Answer("shape", WATCHER, "The watcher; once finished, with the snapshot it captured.")
WATCHER_ID = Param("watcherId", where="path", required=True)


@endpoint(bp, "POST", "/watchers", "createWatcher", params=(
    Param("executionId", required=True), Param("groupId"),
    Param("expectedState", many=True, choices=STATES.choices), Param("expectedOnlineState", "boolean"),
    Param("expectedStateChangeIndex", "integer"),
    Param("expectedHealthState", many=True, choices=HEALTH_NAMES),
    Param("expectedElement"), Param("peek", "boolean", default=False),
    Param("inspectPipeline", "boolean", default=True)), answer=WATCHER_ANSWER)
def create_watcher(engine, principal, execution_id, group_id, expected_state, expected_online_state,
                   expected_state_change_index, expected_health_state, expected_element, peek, inspect_pipeline):
    return ops.create_watcher(engine, principal, execution_id, group_id=group_id, expected_states=expected_state,
                              expected_online=expected_online_state, expected_state_change_index=expected_state_change_index,
                              expected_health=expected_health_state, expected_element=expected_element, peek=peek,
                              inspect_pipeline=inspect_pipeline)


def _get_watcher(engine, principal, watcher_id, finish, timeout, update_timeout):
    return ops.get_watcher(engine, principal, watcher_id, timeout=timeout or None, finish=finish)


def _delete_watcher(engine, principal, watcher_id):
    return ops.delete_watcher(engine, principal, watcher_id)


GET_PARAMS = (WATCHER_ID, Param("finish", "boolean", default=False), Param("timeout", TIMEOUT.kind, default=0,
              description=TIMEOUT.description), Param("updateTimeout", "integer", description="Deprecated; ignored."))
DELETED = Answer("text", description="true if the watcher was deleted, false if there was none (text/plain).")
for prefix in ("/watchers", "/watcher"):
    endpoint(bp, "GET", prefix + "/{watcherId}", "getWatcher", params=GET_PARAMS, answer=WATCHER_ANSWER)(_get_watcher)
    endpoint(bp, "DELETE", prefix + "/{watcherId}", "deleteWatcher", params=(WATCHER_ID,), answer=DELETED)(_delete_watcher)
