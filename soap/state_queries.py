"""SOAP operations of the spec's "Process State Queries" section: the engine calls of rest/state_queries.py."""
from __future__ import annotations

from spyne import ServiceBase

from engine import operations as ops
from schemas.results import ATTRIBUTES
from schemas.snapshot import SNAPSHOTS, VALIDATION

from . import answers
from .lifecycle import SNAPSHOT
from .params import engine, operation, principal
from .types import Count, Element, TotalRelation, out


class StateQueryService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @operation(**out("attributes"))
    def getAttributes(ctx, execution_id, name):
        return answers.shape(ATTRIBUTES, ops.get_attributes(engine(ctx), principal(ctx), execution_id, name))

    @operation(**out("dataStore"))
    def getInstanceConstants(ctx, execution_id, simple_data_store):
        result = ops.get_instance_constants(engine(ctx), principal(ctx), execution_id)
        return answers.data_store(result, simple_data_store)

    @operation(**SNAPSHOT)
    def getProcessSnapshot(ctx, execution_id, simple_data_store, **args):
        result = ops.get_process_snapshot(engine(ctx), principal(ctx), execution_id, **args)
        return answers.snapshot(result, simple_data_store)

    @operation(_returns=(Element(min_occurs=1), Count(min_occurs=1), TotalRelation),
               _out_variable_names=("processExecutionSnapshots", "totalCount", "totalCountRelation"))
    def findExecutions(ctx, query, inspect_pipeline, simple_data_store):
        """The matching snapshots, and how many match before offset and limit (REST's X-Total-Count):
        exact, or with totalCountRelation `gte` a lower bound (CONTRACT §5)."""
        result = ops.find_executions(engine(ctx), principal(ctx), query, inspect_pipeline=inspect_pipeline)
        relation = "gte" if result.total_is_lower_bound else None
        return answers.shape(SNAPSHOTS, result.snapshots, simple_data_store), result.total, relation

    @operation(**out("processValidationResult"))
    def validate(ctx, process_uri, **args):
        return answers.shape(VALIDATION, ops.validate(engine(ctx), principal(ctx), process_uri, **args))

    @operation(**SNAPSHOT)
    def waitForProcess(ctx, execution_id, simple_data_store, **args):
        result = ops.wait_for_process(engine(ctx), principal(ctx), execution_id, **args)
        return answers.snapshot(result, simple_data_store)
