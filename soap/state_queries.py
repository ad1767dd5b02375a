"""SOAP operations of the spec's "Process State Queries" section: the engine calls of rest/state_queries.py."""
from __future__ import annotations

from spyne import ServiceBase

from engine import operations as ops
from engine.states import STATE_NAMES
from schemas.results import ATTRIBUTES
from schemas.snapshot import SNAPSHOTS, VALIDATION

from . import answers
from .lifecycle import SNAPSHOT
from .params import engine, flag, number, principal, read_query, read_timeout, stream, text, texts
from .types import (Count, Element, Flag, FlagTrue, Number, OptionalQuery, RequiredText, Stream, Text, Texts, Timeout,
                    Timestamp, TotalRelation, operation, out)


class StateQueryService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @operation(RequiredText, Texts, **out("attributes"))
    def getAttributes(ctx, execution_id, name):
        result = ops.get_attributes(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                                    texts("name", name))
        return answers.shape(ATTRIBUTES, result)

    @operation(RequiredText, FlagTrue, **out("dataStore"))
    def getInstanceConstants(ctx, execution_id, simple_data_store):
        result = ops.get_instance_constants(engine(ctx), principal(ctx), text("executionId", execution_id, True))
        return answers.data_store(result, simple_data_store)

    @operation(RequiredText, Flag, Flag, FlagTrue, **SNAPSHOT)
    def getProcessSnapshot(ctx, execution_id, peek, inspect_pipeline, simple_data_store):
        result = ops.get_process_snapshot(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                                          peek=flag(peek), inspect_pipeline=flag(inspect_pipeline))
        return answers.snapshot(result, simple_data_store)

    @operation(OptionalQuery, Flag, FlagTrue, _returns=(Element(min_occurs=1), Count(min_occurs=1), TotalRelation),
         _out_variable_names=("processExecutionSnapshots", "totalCount", "totalCountRelation"))
    def findExecutions(ctx, query, inspect_pipeline, simple_data_store):
        """The matching snapshots, and how many match before offset and limit (REST's X-Total-Count):
        exact, or with totalCountRelation `gte` a lower bound (CONTRACT §5)."""
        result = ops.find_executions(engine(ctx), principal(ctx), read_query("query", query, required=False),
                                     inspect_pipeline=flag(inspect_pipeline))
        relation = "gte" if result.total_is_lower_bound else None
        return answers.shape(SNAPSHOTS, result.snapshots, simple_data_store), result.total, relation

    @operation(Text, FlagTrue, Stream, **out("processValidationResult"))
    def validate(ctx, process_uri, cache, process):
        result = ops.validate(engine(ctx), principal(ctx), text("processUri", process_uri), cache=flag(cache, True),
                              process=stream(process))
        return answers.shape(VALIDATION, result)

    @operation(RequiredText, Timeout, Flag, Timestamp, Flag, Texts, Flag, Number, FlagTrue, **SNAPSHOT)
    def waitForProcess(ctx, execution_id, timeout, peek, after_timestamp, inspect_pipeline, states, wait_online,
                       state_change_index, simple_data_store):
        result = ops.wait_for_process(engine(ctx), principal(ctx), text("executionId", execution_id, True),
                                      timeout=read_timeout("timeout", timeout), peek=flag(peek),
                                      after_timestamp=after_timestamp, inspect_pipeline=flag(inspect_pipeline),
                                      states=texts("states", states, STATE_NAMES), wait_online=wait_online,
                                      state_change_index=number("stateChangeIndex", state_change_index))
        return answers.snapshot(result, simple_data_store)
