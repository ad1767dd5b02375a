"""REST endpoints of the spec's "Process State Queries" section."""
from __future__ import annotations

from flask import Blueprint

from engine import operations as ops
from schemas.results import ATTRIBUTES
from schemas.snapshot import VALIDATION

from .endpoint import Answer, Body, FormField, endpoint

bp = Blueprint("state_queries", __name__)
SNAPSHOT = Answer("snapshot", description="The process's snapshot.")


@endpoint(bp, "GET", "/processes/{executionId}/attributes", "getAttributes",
          answer=Answer("shape", ATTRIBUTES, "The attributes, each a name and a text value."))
def get_attributes(engine, principal, execution_id, name):
    return ops.get_attributes(engine, principal, execution_id, name)


@endpoint(bp, "GET", "/processes/{executionId}/constants", "getInstanceConstants",
          answer=Answer("datastore", description="The instance's constants, as a data store."))
def get_instance_constants(engine, principal, execution_id):
    return ops.get_instance_constants(engine, principal, execution_id)


@endpoint(bp, "GET", "/processes/{executionId}", "getProcessSnapshot", answer=SNAPSHOT)
def get_process_snapshot(engine, principal, execution_id, peek, inspect_pipeline):
    return ops.get_process_snapshot(engine, principal, execution_id, peek=peek, inspect_pipeline=inspect_pipeline)


OPTIONAL_QUERY = Body("query", "query", description="A query (CONTRACT §5), XML or JSON; none: every process.")


@endpoint(bp, "POST", "/processes/query", "findExecutions", body=OPTIONAL_QUERY,
          answer=Answer("snapshots", description="The matching snapshots; X-Total-Count says how many match."))
def find_executions(engine, principal, inspect_pipeline, query):
    return ops.find_executions(engine, principal, query, inspect_pipeline=inspect_pipeline)


@endpoint(bp, "POST", "/processes/count", "countExecutions", body=OPTIONAL_QUERY,
          answer=Answer("count", description="How many processes the query matches, exactly."))
def count_executions(engine, principal, query):
    return ops.count_executions(engine, principal, query)


@endpoint(bp, "POST", "/validate", "validate",
          body=Body("form", "form", description="multipart/form-data with an optional `process` part (an IPD)",
                    fields=(FormField("process"),)),
          answer=Answer("shape", VALIDATION, "Name, declared parameters and element IDs of a valid definition."))
def validate(engine, principal, process_uri, cache, process):
    return ops.validate(engine, principal, process_uri, cache=cache, process=process)


@endpoint(bp, "GET", "/processes/{executionId}/wait", "waitForProcess", answer=SNAPSHOT)
def wait_for_process(engine, principal, execution_id, timeout, peek, after_timestamp, inspect_pipeline, states,
                     wait_online, state_change_index):
    return ops.wait_for_process(engine, principal, execution_id, timeout=timeout, peek=peek,
                                after_timestamp=after_timestamp, inspect_pipeline=inspect_pipeline, states=states,
                                wait_online=wait_online, state_change_index=state_change_index)
