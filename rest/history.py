"""REST endpoints of the history (CONTRACT §12, beyond the spec), under `{root}/rest/history`: process
records that outlive their processes, the operation log, and statistics. Who sees what is the engine's
business (admins everything; others the records of processes they could read, and their own calls)."""
from __future__ import annotations

from flask import Blueprint

from engine import operations as ops
from schemas.history import HISTORY_STATISTICS, OPERATIONS, PROCESS_HISTORIES, PROCESS_HISTORY

from .endpoint import Answer, Body, endpoint

bp = Blueprint("history", __name__)
RECORDS_QUERY = Body("query", "query", description="A query over the records (CONTRACT §5's language, the record's "
                                                   "fields), XML or JSON; none: every record the caller may read.")


@endpoint(bp, "POST", "/history/processes/query", "findHistory", body=RECORDS_QUERY,
          answer=Answer("list", PROCESS_HISTORIES, "The matching records; X-Total-Count says how many match."))
def find_history(engine, principal, query):
    return ops.find_history(engine, principal, query)


@endpoint(bp, "POST", "/history/processes/count", "countHistory", body=RECORDS_QUERY,
          answer=Answer("count", description="How many records the query matches, exactly."))
def count_history(engine, principal, query):
    return ops.count_history(engine, principal, query)


@endpoint(bp, "GET", "/history/processes/{executionId}", "getHistory",
          answer=Answer("shape", PROCESS_HISTORY, "The record with its trail and the calls made on the process."))
def get_history(engine, principal, execution_id):
    return ops.get_history(engine, principal, execution_id)


@endpoint(bp, "POST", "/history/operations/query", "findOperations",
          body=Body("query", "query", description="A query over the operation log (fields at, user, operation, "
                                                  "targetKind, target, outcome, node, id), XML or JSON; none: "
                                                  "every entry the caller may see."),
          answer=Answer("list", OPERATIONS, "The matching entries; X-Total-Count says how many match."))
def find_operations(engine, principal, query):
    return ops.find_operations(engine, principal, query)


@endpoint(bp, "GET", "/history/statistics", "getHistoryStatistics",
          answer=Answer("shape", HISTORY_STATISTICS, "One processStatistics per processUri."))
def get_history_statistics(engine, principal, process_uri, from_time, to_time):
    return ops.get_history_statistics(engine, principal, process_uri, from_time=from_time, to_time=to_time)
