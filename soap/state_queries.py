"""SOAP operations of the spec's "Process State Queries" section: the engine calls of rest/state_queries.py."""
from __future__ import annotations

from spyne import ServiceBase, rpc

from engine import operations as ops
from engine.states import STATE_NAMES
from schemas.results import ATTRIBUTES
from schemas.snapshot import SNAPSHOTS, VALIDATION

from . import answers
from .lifecycle import SNAPSHOT
from .params import engine, flag, number, principal, read_query, read_timeout, stream, text, texts
from .types import (Count, Element, Flag, FlagTrue, Number, OptionalQuery, RequiredText, Stream, Text, Texts, Timeout,
                    Timestamp, TotalRelation, out)


class StateQueryService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @rpc(RequiredText, Texts, **out("attributes"))
    def getAttributes(ctx, executionId, name):
        result = ops.get_attributes(engine(ctx), principal(ctx), text("executionId", executionId, True),
                                    texts("name", name))
        return answers.shape(ATTRIBUTES, result)

    @rpc(RequiredText, FlagTrue, **out("dataStore"))
    def getInstanceConstants(ctx, executionId, simpleDataStore):
        result = ops.get_instance_constants(engine(ctx), principal(ctx), text("executionId", executionId, True))
        return answers.data_store(result, simpleDataStore)

    @rpc(RequiredText, Flag, Flag, FlagTrue, **SNAPSHOT)
    def getProcessSnapshot(ctx, executionId, peek, inspectPipeline, simpleDataStore):
        result = ops.get_process_snapshot(engine(ctx), principal(ctx), text("executionId", executionId, True),
                                          peek=flag(peek), inspect_pipeline=flag(inspectPipeline))
        return answers.snapshot(result, simpleDataStore)

    @rpc(OptionalQuery, Flag, FlagTrue, _returns=(Element(min_occurs=1), Count(min_occurs=1), TotalRelation),
         _out_variable_names=("processExecutionSnapshots", "totalCount", "totalCountRelation"))
    def findExecutions(ctx, query, inspectPipeline, simpleDataStore):
        """The matching snapshots, and how many match before offset and limit (REST's X-Total-Count):
        exact, or with totalCountRelation `gte` a lower bound (CONTRACT §5)."""
        result = ops.find_executions(engine(ctx), principal(ctx), read_query("query", query, required=False),
                                     inspect_pipeline=flag(inspectPipeline))
        relation = "gte" if result.total_is_lower_bound else None
        return answers.shape(SNAPSHOTS, result.snapshots, simpleDataStore), result.total, relation

    @rpc(Text, FlagTrue, Stream, **out("processValidationResult"))
    def validate(ctx, processUri, cache, process):
        result = ops.validate(engine(ctx), principal(ctx), text("processUri", processUri), cache=flag(cache, True),
                              process=stream(process))
        return answers.shape(VALIDATION, result)

    @rpc(RequiredText, Timeout, Flag, Timestamp, Flag, Texts, Flag, Number, FlagTrue, **SNAPSHOT)
    def waitForProcess(ctx, executionId, timeout, peek, afterTimestamp, inspectPipeline, states, waitOnline,
                       stateChangeIndex, simpleDataStore):
        result = ops.wait_for_process(engine(ctx), principal(ctx), text("executionId", executionId, True),
                                      timeout=read_timeout("timeout", timeout), peek=flag(peek),
                                      after_timestamp=afterTimestamp, inspect_pipeline=flag(inspectPipeline),
                                      states=texts("states", states, STATE_NAMES), wait_online=waitOnline,
                                      state_change_index=number("stateChangeIndex", stateChangeIndex))
        return answers.snapshot(result, simpleDataStore)
