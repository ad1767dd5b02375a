"""SOAP operations of the spec's "Process Watchers" section: the engine calls of rest/watchers.py."""
from __future__ import annotations

from spyne import Boolean, ServiceBase

from engine import operations as ops
from engine.states import HEALTH_NAMES, STATE_NAMES
from schemas.results import WATCHER

from . import answers
from .params import engine, flag, number, principal, read_timeout, text, texts
from .types import Flag, FlagTrue, Number, RequiredText, Text, Texts, operation, out

WATCHER_OUT = out("processWatcher")


class WatcherService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @operation(RequiredText, Text, Texts, Flag, Number, Texts, Text, Flag, FlagTrue, FlagTrue, **WATCHER_OUT)
    def createWatcher(ctx, execution_id, group_id, expected_state, expected_online_state, expected_state_change_index,
                      expected_health_state, expected_element, peek, inspect_pipeline, simple_data_store):
        result = ops.create_watcher(
            engine(ctx), principal(ctx), text("executionId", execution_id, True), group_id=text("groupId", group_id),
            expected_states=texts("expectedState", expected_state, STATE_NAMES), expected_online=expected_online_state,
            expected_state_change_index=number("expectedStateChangeIndex", expected_state_change_index),
            expected_health=texts("expectedHealthState", expected_health_state, HEALTH_NAMES),
            expected_element=text("expectedElement", expected_element), peek=flag(peek),
            inspect_pipeline=flag(inspect_pipeline, True))
        return answers.shape(WATCHER, result, simple_data_store)

    @operation(RequiredText, Flag, Number, Number, FlagTrue, **WATCHER_OUT)
    def getWatcher(ctx, watcher_id, finish, timeout, update_timeout, simple_data_store):
        """`updateTimeout` is deprecated and ignored, as over REST."""
        result = ops.get_watcher(engine(ctx), principal(ctx), text("watcherId", watcher_id, True),
                                 timeout=read_timeout("timeout", timeout, 0) or None, finish=flag(finish))
        return answers.shape(WATCHER, result, simple_data_store)

    @operation(RequiredText, **out("deleted", Boolean))
    def deleteWatcher(ctx, watcher_id):
        return ops.delete_watcher(engine(ctx), principal(ctx), text("watcherId", watcher_id, True))
