"""REST endpoints of the spec's "Process Watchers" section (CONTRACT §10: /watchers, /watcher alias)."""
from __future__ import annotations

from flask import Blueprint

from engine import operations as ops
from schemas.results import WATCHER

from .endpoint import Answer, endpoint

bp = Blueprint("watchers", __name__)
WATCHER_ANSWER = Answer("shape", WATCHER, "The watcher; once finished, with the snapshot it captured.")


@endpoint(bp, "POST", "/watchers", "createWatcher", answer=WATCHER_ANSWER)
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


DELETED = Answer("text", description="true if the watcher was deleted, false if there was none (text/plain).")
for prefix in ("/watchers", "/watcher"):
    endpoint(bp, "GET", prefix + "/{watcherId}", "getWatcher", answer=WATCHER_ANSWER)(_get_watcher)
    endpoint(bp, "DELETE", prefix + "/{watcherId}", "deleteWatcher", answer=DELETED)(_delete_watcher)
