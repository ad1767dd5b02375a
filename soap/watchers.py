"""SOAP operations of the spec's "Process Watchers" section: the engine calls of rest/watchers.py."""
from __future__ import annotations

from spyne import Boolean, ServiceBase, rpc

from engine import operations as ops
from engine.states import HEALTH_NAMES, STATE_NAMES
from schemas.results import WATCHER

from . import answers
from .params import engine, flag, number, principal, read_timeout, text, texts
from .types import Flag, FlagTrue, Number, RequiredText, Text, Texts, out

WATCHER_OUT = out("processWatcher")


class WatcherService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @rpc(RequiredText, Text, Texts, Flag, Number, Texts, Text, Flag, FlagTrue, FlagTrue, **WATCHER_OUT)
    def createWatcher(ctx, executionId, groupId, expectedState, expectedOnlineState, expectedStateChangeIndex,
                      expectedHealthState, expectedElement, peek, inspectPipeline, simpleDataStore):
        result = ops.create_watcher(
            engine(ctx), principal(ctx), text("executionId", executionId, True), group_id=text("groupId", groupId),
            expected_states=texts("expectedState", expectedState, STATE_NAMES), expected_online=expectedOnlineState,
            expected_state_change_index=number("expectedStateChangeIndex", expectedStateChangeIndex),
            expected_health=texts("expectedHealthState", expectedHealthState, HEALTH_NAMES),
            expected_element=text("expectedElement", expectedElement), peek=flag(peek),
            inspect_pipeline=flag(inspectPipeline, True))
        return answers.shape(WATCHER, result, simpleDataStore)

    @rpc(RequiredText, Flag, Number, Number, FlagTrue, **WATCHER_OUT)
    def getWatcher(ctx, watcherId, finish, timeout, updateTimeout, simpleDataStore):
        """`updateTimeout` is deprecated and ignored, as over REST."""
        result = ops.get_watcher(engine(ctx), principal(ctx), text("watcherId", watcherId, True),
                                 timeout=read_timeout("timeout", timeout, 0) or None, finish=flag(finish))
        return answers.shape(WATCHER, result, simpleDataStore)

    @rpc(RequiredText, **out("deleted", Boolean))
    def deleteWatcher(ctx, watcherId):
        return ops.delete_watcher(engine(ctx), principal(ctx), text("watcherId", watcherId, True))
