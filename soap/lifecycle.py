"""SOAP operations of the spec's "Lifecycle Management" section: the engine calls of rest/lifecycle.py."""
from __future__ import annotations

from spyne import ServiceBase, rpc

from engine import operations as ops
from engine.states import AUTO_DISPOSE_NAMES, DATA_LEVELS, LOG_LEVELS, STATE_NAMES
from schemas.snapshot import EXECUTION_IDS

from . import answers
from .params import (data_store, engine, flag, number, principal, read_query, read_timeout, required_flag, stream,
                     text, texts)
from .types import (AutoDisposeMode, DataLevel, Flag, FlagTrue, LogLevel, Number, OptionalQuery, OptionalStore,
                    RequiredFlag, RequiredQuery, RequiredStore, RequiredText, Stream, Text, Texts, Timeout, out)

SNAPSHOT = out("processExecutionSnapshot")
IDS = out("executionIds")


class LifecycleService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @rpc(RequiredText, FlagTrue, **SNAPSHOT)
    def disposeProcess(ctx, executionId, simpleDataStore):
        result = ops.dispose_process(engine(ctx), principal(ctx), text("executionId", executionId, True))
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredQuery, Flag, **IDS)
    def disposeProcesses(ctx, query, reportExecutionIds):
        result = ops.dispose_processes(engine(ctx), principal(ctx), read_query("query", query),
                                       report_execution_ids=flag(reportExecutionIds))
        return answers.shape(EXECUTION_IDS, result)

    @rpc(Text, Text, FlagTrue, Text, Stream, Flag, AutoDisposeMode, Flag, FlagTrue, **SNAPSHOT)
    def instantiate(ctx, processUri, externalId, cache, threadPoolId, process, debug, autoDispose, locked,
                    simpleDataStore):
        result = ops.instantiate(engine(ctx), principal(ctx), text("processUri", processUri),
                                 external_id=text("externalId", externalId), cache=flag(cache, True),
                                 thread_pool_id=text("threadPoolId", threadPoolId), process=stream(process),
                                 debug=debug, auto_dispose=text("autoDispose", autoDispose, choices=AUTO_DISPOSE_NAMES),
                                 locked=bool(locked), idempotency_key=None)
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredText, Text, Flag, Stream, FlagTrue, **SNAPSHOT)
    def reload(ctx, executionId, processUri, setOnline, process, simpleDataStore):
        result = ops.reload(engine(ctx), principal(ctx), text("executionId", executionId, True),
                            process_uri=text("processUri", processUri), set_online=flag(setOnline),
                            process=stream(process))
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredText, Flag, Flag, FlagTrue, **SNAPSHOT)
    def recoverProcess(ctx, executionId, setOnline, updateCredentials, simpleDataStore):
        result = ops.recover_process(engine(ctx), principal(ctx), text("executionId", executionId, True),
                                     set_online=flag(setOnline), update_credentials=flag(updateCredentials))
        return answers.snapshot(result, simpleDataStore)

    @rpc(Flag, OptionalQuery, Flag, **IDS)
    def recoverProcesses(ctx, setOnline, query, reportExecutionIds):
        result = ops.recover_processes(engine(ctx), principal(ctx), read_query("query", query, required=False),
                                       set_online=flag(setOnline), report_execution_ids=flag(reportExecutionIds))
        return answers.shape(EXECUTION_IDS, result)

    @rpc(RequiredText, Text, FlagTrue, Text, OptionalStore, Flag, Timeout, Texts, Flag, Flag, Flag, Flag,
         AutoDisposeMode, Flag, FlagTrue, **SNAPSHOT)
    def run(ctx, processUri, externalId, cache, threadPoolId, processParams, peek, timeout, states, waitOnline,
            inspectPipeline, setOnline, debug, autoDispose, locked, simpleDataStore):
        result = ops.run(engine(ctx), principal(ctx), text("processUri", processUri, True),
                         external_id=text("externalId", externalId), cache=flag(cache, True),
                         thread_pool_id=text("threadPoolId", threadPoolId),
                         process_params=data_store("processParams", processParams), peek=flag(peek),
                         timeout=read_timeout("timeout", timeout), states=texts("states", states, STATE_NAMES),
                         wait_online=waitOnline, inspect_pipeline=flag(inspectPipeline), set_online=setOnline,
                         debug=debug, auto_dispose=text("autoDispose", autoDispose, choices=AUTO_DISPOSE_NAMES),
                         locked=flag(locked), idempotency_key=None)
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredText, RequiredText, RequiredText)
    def setAttribute(ctx, executionId, name, value):
        ops.set_attribute(engine(ctx), principal(ctx), text("executionId", executionId, True),
                          text("name", name, True), text("value", value, True))

    @rpc(RequiredText, RequiredText, Flag, Timeout, FlagTrue, **SNAPSHOT)
    def setBreakpoint(ctx, executionId, elementId, remove, timeout, simpleDataStore):
        result = ops.set_breakpoint(engine(ctx), principal(ctx), text("executionId", executionId, True),
                                    text("elementId", elementId, True), remove=flag(remove),
                                    timeout=read_timeout("timeout", timeout))
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredText, RequiredStore, FlagTrue, **SNAPSHOT)
    def setInstanceConstants(ctx, executionId, constants, simpleDataStore):
        result = ops.set_instance_constants(engine(ctx), principal(ctx), text("executionId", executionId, True),
                                            data_store("constants", constants, True))
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredText, LogLevel, DataLevel, Flag, FlagTrue, **SNAPSHOT)
    def setLogSettings(ctx, executionId, diagnosticLevel, dataLevel, trace, simpleDataStore):
        result = ops.set_log_settings(engine(ctx), principal(ctx), text("executionId", executionId, True),
                                      diagnostic_level=text("diagnosticLevel", diagnosticLevel,
                                                            choices=LOG_LEVELS),
                                      data_level=text("dataLevel", dataLevel, choices=DATA_LEVELS), trace=trace)
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredText, RequiredFlag, Timeout, Flag, Texts, Flag, FlagTrue, **SNAPSHOT)
    def setOnline(ctx, executionId, online, timeout, peek, states, waitOnline, simpleDataStore):
        result = ops.set_online(engine(ctx), principal(ctx), text("executionId", executionId, True),
                                required_flag("online", online), timeout=read_timeout("timeout", timeout),
                                peek=flag(peek), states=texts("states", states, STATE_NAMES), wait_online=waitOnline)
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredText, RequiredText, FlagTrue, **SNAPSHOT)
    def setOwner(ctx, executionId, owner, simpleDataStore):
        result = ops.set_owner(engine(ctx), principal(ctx), text("executionId", executionId, True),
                               text("owner", owner, True))
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredText, RequiredText, Texts, FlagTrue, **SNAPSHOT)
    def setPermissions(ctx, executionId, name, privileges, simpleDataStore):
        privileges = ",".join(text("privileges", p) or "" for p in privileges or ()).split(",")  # as REST
        result = ops.set_permissions(engine(ctx), principal(ctx), text("executionId", executionId, True),
                                     text("name", name, True), privileges)
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredText, OptionalStore, Flag, Timeout, Texts, Flag, Flag, Flag, FlagTrue, **SNAPSHOT)
    def startProcess(ctx, executionId, processParams, peek, timeout, states, waitOnline, inspectPipeline, setOnline,
                     simpleDataStore):
        result = ops.start_process(engine(ctx), principal(ctx), text("executionId", executionId, True),
                                   process_params=data_store("processParams", processParams), peek=flag(peek),
                                   timeout=read_timeout("timeout", timeout), states=texts("states", states, STATE_NAMES),
                                   wait_online=waitOnline, inspect_pipeline=flag(inspectPipeline),
                                   set_online=setOnline)
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredText, Flag, Flag, Text, Timeout, Flag, Texts, Flag, Flag, Flag, Number, FlagTrue, **SNAPSHOT)
    def terminateProcess(ctx, executionId, kill, fail, message, timeout, peek, states, waitOnline, inspectPipeline,
                         setOnline, stateChangeIndex, simpleDataStore):
        result = ops.terminate_process(engine(ctx), principal(ctx), text("executionId", executionId, True),
                                       kill=flag(kill), fail=flag(fail), message=text("message", message),
                                       timeout=read_timeout("timeout", timeout), peek=flag(peek),
                                       states=texts("states", states, STATE_NAMES), wait_online=waitOnline,
                                       inspect_pipeline=flag(inspectPipeline), set_online=flag(setOnline),
                                       state_change_index=number("stateChangeIndex", stateChangeIndex))
        return answers.snapshot(result, simpleDataStore)

    @rpc(RequiredText, FlagTrue, **SNAPSHOT)
    def updateCredentials(ctx, executionId, simpleDataStore):
        result = ops.update_credentials(engine(ctx), principal(ctx), text("executionId", executionId, True))
        return answers.snapshot(result, simpleDataStore)

