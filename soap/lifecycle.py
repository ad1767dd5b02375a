"""SOAP operations of the spec's "Lifecycle Management" section: the engine calls of rest/lifecycle.py."""
from __future__ import annotations

from spyne import ServiceBase

from engine import operations as ops
from engine.states import AUTO_DISPOSE_NAMES, DATA_LEVELS, LOG_LEVELS, STATE_NAMES
from schemas.snapshot import EXECUTION_IDS

from . import answers
from .params import (data_store, engine, flag, number, principal, read_query, read_timeout, required_flag, stream, text,
                     texts)
from .types import (AutoDisposeMode, DataLevel, Flag, FlagTrue, LogLevel, Number, OptionalQuery, OptionalStore,
                    RequiredFlag, RequiredQuery, RequiredStore, RequiredText, Stream, Text, Texts, Timeout, operation,
                    out)

SNAPSHOT = out("processExecutionSnapshot")
IDS = out("executionIds")


class LifecycleService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @operation(RequiredText, FlagTrue, **SNAPSHOT)
    def disposeProcess(ctx, execution_id, simple_data_store):
        result = ops.dispose_process(engine(ctx), principal(ctx), text("executionId", execution_id, True))
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredQuery, Flag, **IDS)
    def disposeProcesses(ctx, query, report_execution_ids):
        result = ops.dispose_processes(engine(ctx), principal(ctx), read_query("query", query),
                                       report_execution_ids=flag(report_execution_ids))
        return answers.shape(EXECUTION_IDS, result)

    @operation(Text, Text, FlagTrue, Text, Stream, Flag, AutoDisposeMode, Flag, FlagTrue, **SNAPSHOT)
    def instantiate(ctx, process_uri, external_id, cache, thread_pool_id, process, debug, auto_dispose, locked,
                    simple_data_store):
        result = ops.instantiate(engine(ctx), principal(ctx), text("processUri", process_uri),
                                 external_id=text("externalId", external_id), cache=flag(cache, True),
                                 thread_pool_id=text("threadPoolId", thread_pool_id), process=stream(process),
                                 debug=debug, auto_dispose=text("autoDispose", auto_dispose, choices=AUTO_DISPOSE_NAMES),
                                 locked=bool(locked), idempotency_key=None)
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredText, Text, Flag, Stream, FlagTrue, **SNAPSHOT)
    def reload(ctx, execution_id, process_uri, set_online, process, simple_data_store):
        result = ops.reload(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                            process_uri=text("processUri", process_uri), set_online=flag(set_online),
                            process=stream(process))
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredText, Flag, Flag, FlagTrue, **SNAPSHOT)
    def recoverProcess(ctx, execution_id, set_online, update_credentials, simple_data_store):
        result = ops.recover_process(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                                     set_online=flag(set_online), update_credentials=flag(update_credentials))
        return answers.snapshot(result, simple_data_store)

    @operation(Flag, OptionalQuery, Flag, **IDS)
    def recoverProcesses(ctx, set_online, query, report_execution_ids):
        result = ops.recover_processes(engine(ctx), principal(ctx), read_query("query", query, required=False),
                                       set_online=flag(set_online), report_execution_ids=flag(report_execution_ids))
        return answers.shape(EXECUTION_IDS, result)

    @operation(RequiredText, Text, FlagTrue, Text, OptionalStore, Flag, Timeout, Texts, Flag, Flag, Flag, Flag,
         AutoDisposeMode, Flag, FlagTrue, **SNAPSHOT)
    def run(ctx, process_uri, external_id, cache, thread_pool_id, process_params, peek, timeout, states, wait_online,
            inspect_pipeline, set_online, debug, auto_dispose, locked, simple_data_store):
        result = ops.run(engine(ctx), principal(ctx), text("processUri", process_uri, True),
                         external_id=text("externalId", external_id), cache=flag(cache, True),
                         thread_pool_id=text("threadPoolId", thread_pool_id),
                         process_params=data_store("processParams", process_params), peek=flag(peek),
                         timeout=read_timeout("timeout", timeout), states=texts("states", states, STATE_NAMES),
                         wait_online=wait_online, inspect_pipeline=flag(inspect_pipeline), set_online=set_online,
                         debug=debug, auto_dispose=text("autoDispose", auto_dispose, choices=AUTO_DISPOSE_NAMES),
                         locked=flag(locked), idempotency_key=None)
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredText, RequiredText, RequiredText)
    def setAttribute(ctx, execution_id, name, value):
        ops.set_attribute(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                          text("name", name, True), text("value", value, True))

    @operation(RequiredText, RequiredText, Flag, Timeout, FlagTrue, **SNAPSHOT)
    def setBreakpoint(ctx, execution_id, element_id, remove, timeout, simple_data_store):
        result = ops.set_breakpoint(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                                    text("elementId", element_id, True), remove=flag(remove),
                                    timeout=read_timeout("timeout", timeout))
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredText, RequiredStore, FlagTrue, **SNAPSHOT)
    def setInstanceConstants(ctx, execution_id, constants, simple_data_store):
        result = ops.set_instance_constants(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                                            data_store("constants", constants, True))
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredText, LogLevel, DataLevel, Flag, FlagTrue, **SNAPSHOT)
    def setLogSettings(ctx, execution_id, diagnostic_level, data_level, trace, simple_data_store):
        result = ops.set_log_settings(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                                      diagnostic_level=text("diagnosticLevel", diagnostic_level,
                                                            choices=LOG_LEVELS),
                                      data_level=text("dataLevel", data_level, choices=DATA_LEVELS), trace=trace)
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredText, RequiredFlag, Timeout, Flag, Texts, Flag, FlagTrue, **SNAPSHOT)
    def setOnline(ctx, execution_id, online, timeout, peek, states, wait_online, simple_data_store):
        result = ops.set_online(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                                required_flag("online", online), timeout=read_timeout("timeout", timeout),
                                peek=flag(peek), states=texts("states", states, STATE_NAMES), wait_online=wait_online)
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredText, RequiredText, FlagTrue, **SNAPSHOT)
    def setOwner(ctx, execution_id, owner, simple_data_store):
        result = ops.set_owner(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                               text("owner", owner, True))
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredText, RequiredText, Texts, FlagTrue, **SNAPSHOT)
    def setPermissions(ctx, execution_id, name, privileges, simple_data_store):
        privileges = ",".join(text("privileges", p) or "" for p in privileges or ()).split(",")  # as REST
        result = ops.set_permissions(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                                     text("name", name, True), privileges)
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredText, OptionalStore, Flag, Timeout, Texts, Flag, Flag, Flag, FlagTrue, **SNAPSHOT)
    def startProcess(ctx, execution_id, process_params, peek, timeout, states, wait_online, inspect_pipeline, set_online,
                     simple_data_store):
        result = ops.start_process(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                                   process_params=data_store("processParams", process_params), peek=flag(peek),
                                   timeout=read_timeout("timeout", timeout), states=texts("states", states, STATE_NAMES),
                                   wait_online=wait_online, inspect_pipeline=flag(inspect_pipeline),
                                   set_online=set_online)
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredText, Flag, Flag, Text, Timeout, Flag, Texts, Flag, Flag, Flag, Number, FlagTrue, **SNAPSHOT)
    def terminateProcess(ctx, execution_id, kill, fail, message, timeout, peek, states, wait_online, inspect_pipeline,
                         set_online, state_change_index, simple_data_store):
        result = ops.terminate_process(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                                       kill=flag(kill), fail=flag(fail), message=text("message", message),
                                       timeout=read_timeout("timeout", timeout), peek=flag(peek),
                                       states=texts("states", states, STATE_NAMES), wait_online=wait_online,
                                       inspect_pipeline=flag(inspect_pipeline), set_online=flag(set_online),
                                       state_change_index=number("stateChangeIndex", state_change_index))
        return answers.snapshot(result, simple_data_store)

    @operation(RequiredText, FlagTrue, **SNAPSHOT)
    def updateCredentials(ctx, execution_id, simple_data_store):
        result = ops.update_credentials(engine(ctx), principal(ctx), text("executionId", execution_id, True))
        return answers.snapshot(result, simple_data_store)

