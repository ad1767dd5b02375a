"""REST endpoints of the spec's "Lifecycle Management" section."""
from __future__ import annotations

from flask import Blueprint, request

from engine import operations as ops
from engine.model.datastore import DataStore, make_value
from engine.errors import InvalidParameter
from schemas.snapshot import EXECUTION_IDS

from .arguments import IDEMPOTENCY_KEY
from .endpoint import Answer, Body, FormField, endpoint
from .params import parse_boolean

bp = Blueprint("lifecycle", __name__)
SNAPSHOT = Answer("snapshot", description="The process's snapshot.")
IDS = Answer("shape", EXECUTION_IDS, "How many processes (and which, when asked).")
QUERY = Body("query", "query", required=True, description="A query (CONTRACT §5), XML or JSON.")
PARAMS = Body("datastore", "process_params", description="Process parameters: a data store in any of its four forms.")
INSTANTIATE_FORM = Body("form", "form", required=False, description="multipart/form-data", fields=(
    FormField("processUri"), FormField("externalId"), FormField("cache"), FormField("threadPoolId"),
    FormField("process", "An IPD to instantiate instead of the repository's."),
    FormField("debug"), FormField("autoDispose"), FormField("locked")))


@endpoint(bp, "DELETE", "/processes/{executionId}", "disposeProcess",
          answer=Answer("optional_snapshot", description="The disposed process; nothing if there was none."))
def dispose_process(engine, principal, execution_id):
    return ops.dispose_process(engine, principal, execution_id)


def _dispose_processes(engine, principal, report_execution_ids, query):
    return ops.dispose_processes(engine, principal, query, report_execution_ids=report_execution_ids)


endpoint(bp, "DELETE", "/processes", "disposeProcesses", body=QUERY,
         answer=IDS)(_dispose_processes)
endpoint(bp, "POST", "/processes/dispose", "disposeProcesses", body=QUERY, answer=IDS)(_dispose_processes)  # for clients that cannot send a body with DELETE


@endpoint(bp, "POST", "/processes", "instantiate", also=(IDEMPOTENCY_KEY,), body=INSTANTIATE_FORM, answer=SNAPSHOT)
def instantiate(engine, principal, process_uri, external_id, cache, thread_pool_id, process, debug, auto_dispose,
                locked, idempotency_key):
    return ops.instantiate(engine, principal, process_uri, external_id=external_id,
                           cache=True if cache is None else cache, thread_pool_id=thread_pool_id, process=process,
                           debug=debug, auto_dispose=auto_dispose, locked=bool(locked),
                           idempotency_key=idempotency_key)


@endpoint(bp, "POST", "/processes/{executionId}/reload", "reload",
          body=Body("form", "form", fields=(FormField("process"),)), answer=SNAPSHOT)
def reload(engine, principal, execution_id, process_uri, set_online, process):
    return ops.reload(engine, principal, execution_id, process_uri=process_uri, set_online=set_online, process=process)


@endpoint(bp, "POST", "/processes/{executionId}/recover", "recoverProcess", answer=SNAPSHOT)
def recover_process(engine, principal, execution_id, set_online, update_credentials):
    return ops.recover_process(engine, principal, execution_id, set_online=set_online,
                               update_credentials=update_credentials)


@endpoint(bp, "POST", "/recover", "recoverProcesses",
          body=Body("query", "query", description="A query (CONTRACT §5), XML or JSON; none: every LOST process."),
          answer=IDS)
def recover_processes(engine, principal, set_online, report_execution_ids, query):
    return ops.recover_processes(engine, principal, query, set_online=set_online,
                                 report_execution_ids=report_execution_ids)


@endpoint(bp, "POST", "/run", "run", also=(IDEMPOTENCY_KEY,), body=PARAMS, answer=SNAPSHOT)
def run_post(engine, principal, process_params, **args):
    return ops.run(engine, principal, process_params=process_params, **args)  # the parameters' names are run's


@endpoint(bp, "GET", "/run", "run", also=(IDEMPOTENCY_KEY,), answer=SNAPSHOT, free_params="in.")
def run_get(engine, principal, **args):
    return ops.run(engine, principal, process_params=_in_parameters(), **args)


def _in_parameters() -> DataStore | None:
    store = DataStore()
    for key in request.args:
        if key.startswith("in."):
            name = key[3:]
            if not name:
                raise InvalidParameter(key, "needs a name after 'in.'")
            store.set(name, [make_value(str(i), "text/plain", v) for i, v in enumerate(request.args.getlist(key), 1)])
    return store if len(store) else None


@endpoint(bp, "PUT", "/processes/{executionId}/attributes/{name}", "setAttribute",
          body=Body("text", "value", required=True, empty=True,
                    description="The attribute's value (text/plain, or a JSON string); it may be empty."),
          answer=Answer("none"))
def set_attribute(engine, principal, execution_id, name, value):
    ops.set_attribute(engine, principal, execution_id, name, value)


@endpoint(bp, "POST", "/processes/{executionId}/breakpoints/{elementId}", "setBreakpoint", answer=SNAPSHOT)
def set_breakpoint(engine, principal, execution_id, element_id, timeout):
    return ops.set_breakpoint(engine, principal, execution_id, element_id, timeout=timeout)


@endpoint(bp, "DELETE", "/processes/{executionId}/breakpoints/{elementId}", "setBreakpoint",
          answer=SNAPSHOT)  # setBreakpoint with remove=true
def remove_breakpoint(engine, principal, execution_id, element_id, timeout):
    return ops.set_breakpoint(engine, principal, execution_id, element_id, remove=True, timeout=timeout)


@endpoint(bp, "POST", "/processes/{executionId}/constants", "setInstanceConstants",
          body=Body("datastore", "constants", required=True, description="The constants, as a data store."),
          answer=SNAPSHOT)
def set_instance_constants(engine, principal, execution_id, constants):
    return ops.set_instance_constants(engine, principal, execution_id, constants)


@endpoint(bp, "POST", "/processes/{executionId}/logSettings", "setLogSettings", answer=SNAPSHOT)
def set_log_settings(engine, principal, execution_id, diagnostic_level, data_level, trace):
    return ops.set_log_settings(engine, principal, execution_id, diagnostic_level=diagnostic_level,
                                data_level=data_level, trace=trace)


@endpoint(bp, "PUT", "/processes/{executionId}/online", "setOnline",
          body=Body("text", "online", required=True, description="true or false (text/plain, or a JSON boolean).",
                    json="boolean"), answer=SNAPSHOT)
def set_online(engine, principal, execution_id, timeout, peek, states, wait_online, online):
    return ops.set_online(engine, principal, execution_id, parse_boolean("online", online), timeout=timeout,
                          peek=peek, states=states, wait_online=wait_online)


@endpoint(bp, "PUT", "/processes/{executionId}/owner", "setOwner",
          body=Body("text", "owner", required=True, description="The new owner's login name (text/plain)."),
          answer=SNAPSHOT)
def set_owner(engine, principal, execution_id, owner):
    return ops.set_owner(engine, principal, execution_id, owner)


@endpoint(bp, "PUT", "/processes/{executionId}/permissions/{name}", "setPermissions",
          body=Body("text", "privileges", json="strings",
                    description="Comma-separated privileges (text/plain, or a JSON array); empty removes."),
          answer=SNAPSHOT)
def set_permissions(engine, principal, execution_id, name, privileges):
    return ops.set_permissions(engine, principal, execution_id, name, (privileges or "").split(","))


@endpoint(bp, "POST", "/processes/{executionId}/start", "startProcess", body=PARAMS, answer=SNAPSHOT)
def start_process(engine, principal, execution_id, peek, timeout, states, wait_online, inspect_pipeline, set_online,
                  process_params):
    return ops.start_process(engine, principal, execution_id, process_params=process_params, peek=peek,
                             timeout=timeout, states=states, wait_online=wait_online,
                             inspect_pipeline=inspect_pipeline, set_online=set_online)


@endpoint(bp, "POST", "/processes/{executionId}/terminate", "terminateProcess", answer=SNAPSHOT)
def terminate_process(engine, principal, execution_id, kill, fail, message, timeout, peek, states, wait_online,
                      inspect_pipeline, set_online, state_change_index):
    return ops.terminate_process(engine, principal, execution_id, kill=kill, fail=fail, message=message,
                                 timeout=timeout, peek=peek, states=states, wait_online=wait_online,
                                 inspect_pipeline=inspect_pipeline, set_online=set_online,
                                 state_change_index=state_change_index)


@endpoint(bp, "POST", "/processes/{executionId}/updateCredentials", "updateCredentials",
          answer=SNAPSHOT)
def update_credentials(engine, principal, execution_id):
    return ops.update_credentials(engine, principal, execution_id)
