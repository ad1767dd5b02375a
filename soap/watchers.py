"""SOAP operations of the spec's "Process Watchers" section: the engine calls of rest/watchers.py."""
from __future__ import annotations

from spyne import Boolean, ServiceBase

from engine import operations as ops
from schemas.results import WATCHER

from . import answers
from .params import engine, operation, principal
from .types import out

WATCHER_OUT = out("processWatcher")


class WatcherService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @operation(**WATCHER_OUT)
    def createWatcher(ctx, execution_id, group_id, expected_state, expected_online_state, expected_state_change_index,
                      expected_health_state, expected_element, peek, inspect_pipeline, simple_data_store):
        result = ops.create_watcher(
            engine(ctx), principal(ctx), execution_id, group_id=group_id, expected_states=expected_state,
            expected_online=expected_online_state, expected_state_change_index=expected_state_change_index,
            expected_health=expected_health_state, expected_element=expected_element, peek=peek,
            inspect_pipeline=inspect_pipeline)
        return answers.shape(WATCHER, result, simple_data_store)

    @operation(**WATCHER_OUT)
    def getWatcher(ctx, watcher_id, finish, timeout, update_timeout, simple_data_store):
        """`updateTimeout` is deprecated and ignored, as over REST."""
        result = ops.get_watcher(engine(ctx), principal(ctx), watcher_id, timeout=timeout or None, finish=finish)
        return answers.shape(WATCHER, result, simple_data_store)

    @operation(**out("deleted", Boolean))
    def deleteWatcher(ctx, watcher_id):
        return ops.delete_watcher(engine(ctx), principal(ctx), watcher_id)
