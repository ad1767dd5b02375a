"""SOAP operations of the history (CONTRACT §12, beyond the spec): the engine calls of rest/history.py.
Their docstrings are the operations' documentation in the WSDL."""
from __future__ import annotations

from spyne import Long, ServiceBase

from engine import operations as ops
from schemas.history import HISTORY_STATISTICS, OPERATIONS, PROCESS_HISTORIES, PROCESS_HISTORY

from . import answers
from .params import engine, operation, principal
from .types import Count, Element, TotalRelation, out


class HistoryService(ServiceBase):
    __service_name__ = "ProcessEngineService"  # one wsdl:service for every section

    @operation(_returns=(Element(min_occurs=1), Count(min_occurs=1), TotalRelation),
               _out_variable_names=("processHistories", "totalCount", "totalCountRelation"))
    def findHistory(ctx, query, simple_data_store):
        """The records of processes the query (q:HistoryQuery, the record's fields) matches that the caller
        may read, and how many match before offset and limit: exact, or with totalCountRelation `gte` a
        lower bound (CONTRACT §5). Records outlive their processes (history.ttl_days)."""
        result = ops.find_history(engine(ctx), principal(ctx), query)
        relation = "gte" if result.lower_bound else None
        return answers.shape(PROCESS_HISTORIES, result.items, simple_data_store), result.total, relation

    @operation(**out("count", Long))
    def countHistory(ctx, query):
        """The exact number of records the query matches that the caller may read (never capped)."""
        return ops.count_history(engine(ctx), principal(ctx), query)

    @operation(**out("processHistory"))
    def getHistory(ctx, execution_id, simple_data_store):
        """One process's record, with the elements it passed (level activity) and the calls made on it;
        the NotFound fault for an unknown execution or one the caller may not read."""
        result = ops.get_history(engine(ctx), principal(ctx), execution_id)
        return answers.shape(PROCESS_HISTORY, result, simple_data_store)

    @operation(_returns=(Element(min_occurs=1), Count(min_occurs=1), TotalRelation),
               _out_variable_names=("operations", "totalCount", "totalCountRelation"))
    def findOperations(ctx, query):
        """Entries of the operation log the query (q:OperationLogQuery) matches — every call for
        administrators, one's own for others — and how many match, as findHistory counts them."""
        result = ops.find_operations(engine(ctx), principal(ctx), query)
        relation = "gte" if result.lower_bound else None
        return answers.shape(OPERATIONS, result.items), result.total, relation

    @operation(**out("historyStatistics"))
    def getHistoryStatistics(ctx, process_uri, from_time, to_time):
        """Per processUri, the processes that ended in [from, to): how many, by end state, the failure
        rate and durations (p50, p95, max); per element too at level activity."""
        result = ops.get_history_statistics(engine(ctx), principal(ctx), process_uri, from_time=from_time,
                                            to_time=to_time)
        return answers.shape(HISTORY_STATISTICS, result)
