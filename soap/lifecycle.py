"""SOAP operations of the spec's "Lifecycle Management" section: the engine calls of rest/lifecycle.py."""
from __future__ import annotations

from spyne import ServiceBase

from engine import operations as ops
from schemas.snapshot import EXECUTION_IDS

from . import answers
from .params import engine, operation, principal
from .types import out

SNAPSHOT = out("processExecutionSnapshot")
IDS = out("executionIds")


class LifecycleService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @operation(**SNAPSHOT)
    def disposeProcess(ctx, execution_id, simple_data_store):
        return answers.snapshot(ops.dispose_process(engine(ctx), principal(ctx), execution_id), simple_data_store)

    @operation(**IDS)
    def disposeProcesses(ctx, query, report_execution_ids):
        result = ops.dispose_processes(engine(ctx), principal(ctx), query, report_execution_ids=report_execution_ids)
        return answers.shape(EXECUTION_IDS, result)

    @operation(**SNAPSHOT)
    def instantiate(ctx, process_uri, simple_data_store, **args):
        result = ops.instantiate(engine(ctx), principal(ctx), process_uri, idempotency_key=None, **args)
        return answers.snapshot(result, simple_data_store)

    @operation(**SNAPSHOT)
    def reload(ctx, execution_id, simple_data_store, **args):
        return answers.snapshot(ops.reload(engine(ctx), principal(ctx), execution_id, **args), simple_data_store)

    @operation(**SNAPSHOT)
    def recoverProcess(ctx, execution_id, simple_data_store, **args):
        result = ops.recover_process(engine(ctx), principal(ctx), execution_id, **args)
        return answers.snapshot(result, simple_data_store)

    @operation(**IDS)
    def recoverProcesses(ctx, query, **args):
        return answers.shape(EXECUTION_IDS, ops.recover_processes(engine(ctx), principal(ctx), query, **args))

    @operation(**SNAPSHOT)
    def run(ctx, simple_data_store, **args):
        result = ops.run(engine(ctx), principal(ctx), idempotency_key=None, **args)  # the parameters' names are run's
        return answers.snapshot(result, simple_data_store)

    @operation()
    def setAttribute(ctx, execution_id, name, value):
        ops.set_attribute(engine(ctx), principal(ctx), execution_id, name, value)

    @operation(**SNAPSHOT)
    def setBreakpoint(ctx, execution_id, element_id, simple_data_store, **args):
        result = ops.set_breakpoint(engine(ctx), principal(ctx), execution_id, element_id, **args)
        return answers.snapshot(result, simple_data_store)

    @operation(**SNAPSHOT)
    def setInstanceConstants(ctx, execution_id, constants, simple_data_store):
        result = ops.set_instance_constants(engine(ctx), principal(ctx), execution_id, constants)
        return answers.snapshot(result, simple_data_store)

    @operation(**SNAPSHOT)
    def setLogSettings(ctx, execution_id, simple_data_store, **args):
        result = ops.set_log_settings(engine(ctx), principal(ctx), execution_id, **args)
        return answers.snapshot(result, simple_data_store)

    @operation(**SNAPSHOT)
    def setOnline(ctx, execution_id, online, simple_data_store, **args):
        result = ops.set_online(engine(ctx), principal(ctx), execution_id, online, **args)
        return answers.snapshot(result, simple_data_store)

    @operation(**SNAPSHOT)
    def setOwner(ctx, execution_id, owner, simple_data_store):
        return answers.snapshot(ops.set_owner(engine(ctx), principal(ctx), execution_id, owner), simple_data_store)

    @operation(**SNAPSHOT)
    def setPermissions(ctx, execution_id, name, privileges, simple_data_store):
        result = ops.set_permissions(engine(ctx), principal(ctx), execution_id, name, privileges)
        return answers.snapshot(result, simple_data_store)

    @operation(**SNAPSHOT)
    def startProcess(ctx, execution_id, simple_data_store, **args):
        result = ops.start_process(engine(ctx), principal(ctx), execution_id, **args)
        return answers.snapshot(result, simple_data_store)

    @operation(**SNAPSHOT)
    def terminateProcess(ctx, execution_id, simple_data_store, **args):
        result = ops.terminate_process(engine(ctx), principal(ctx), execution_id, **args)
        return answers.snapshot(result, simple_data_store)

    @operation(**SNAPSHOT)
    def updateCredentials(ctx, execution_id, simple_data_store):
        result = ops.update_credentials(engine(ctx), principal(ctx), execution_id)
        return answers.snapshot(result, simple_data_store)
