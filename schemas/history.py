"""The history's answers (CONTRACT §12) as shapes (see `schemas/shapes.py`): process records, the elements
they passed, the operation log and statistics — XML in the process engine's namespace, JSON its simple
form, as every other answer of both doors.

A record in a list (`processHistories`, findHistory) is the record alone; the record getHistory answers
holds its trail (`elements`) and the calls made on it (`operations`) too, present even when empty, so a
reader tells "none" from "not asked". Lists of name/value pairs (an operation's parameters) follow
getAttributes: `<parameter name="owner">carol</parameter>`, JSON `{"name": "owner", "value": "carol"}`.
"""
from __future__ import annotations

from engine.model.history import EndState, Outcome

from .shapes import FLOAT, INT, TIME, Attr, Child, Shape, texts, wrapper
from .snapshot import PIPELINE, data_store_child

END_STATES = tuple(s.value for s in EndState)
OPERATION_OUTCOMES = tuple(o.value for o in Outcome)
ELEMENT_OUTCOMES = ("completed", "failed", "caught", "terminated")  # CONTRACT §12

HEALTH_CHANGE = Shape("healthChange", attrs=(
    Attr("at", lambda c: c.at, TIME, required=True), Attr("health", lambda c: c.health, required=True),
    Attr("node", lambda c: c.node), Attr("message", lambda c: c.message)),
    doc="A change of the process's health (LOST, recovered) and the node that noted it.")

ELEMENT_VISIT = Shape("element", attrs=(
    Attr("id", lambda e: e.id, required=True), Attr("enteredAt", lambda e: e.entered_at, TIME, required=True),
    Attr("leftAt", lambda e: e.left_at, TIME), Attr("node", lambda e: e.node),
    Attr("outcome", lambda e: e.outcome, required=True, choices=ELEMENT_OUTCOMES),
    Attr("iteration", lambda e: e.iteration, INT)), children=(
    data_store_child("data", lambda e: e.data, "Level full, an assign: its entry as the assign left it, "
                     "alone in a data store, in the form x-infinica-datastore-mode asks for."),),
    title="ElementVisit", doc="An element the process passed (level activity): its full ID, when and how; "
                              "at level full, an assign's entry as it left it.")

OPERATION_PARAMETER = Shape("parameter", attrs=(Attr("name", lambda kv: kv[0], required=True),),
                            text=lambda kv: kv[1], title="OperationParameter")
OPERATION_ENTRY = Shape("operation", attrs=(
    Attr("at", lambda o: o.at, TIME, required=True), Attr("user", lambda o: o.user, required=True),
    Attr("operation", lambda o: o.operation, required=True), Attr("targetKind", lambda o: o.target_kind, required=True),
    Attr("target", lambda o: o.target),
    Attr("outcome", lambda o: o.outcome.value, required=True, choices=OPERATION_OUTCOMES),
    Attr("node", lambda o: o.node), Attr("message", lambda o: o.message),
), children=(Child("parameters", wrapper("parameters", OPERATION_PARAMETER, title="OperationParameters"),
                   lambda o: o.parameters, required=True),),
    title="OperationLogEntry", doc="A call through either door as the operation log keeps it.")
OPERATIONS = wrapper("operations", OPERATION_ENTRY, title="OperationLog", doc="Entries of the operation log.")

_RECORD_ATTRS = (
    Attr("executionId", lambda h: h.execution_id, required=True), Attr("externalId", lambda h: h.external_id),
    Attr("processUri", lambda h: h.process_uri, required=True),
    Attr("definitionVersion", lambda h: h.definition_version, INT), Attr("owner", lambda h: h.owner, required=True),
    Attr("parentExecutionId", lambda h: h.parent_execution_id),
    Attr("createdAt", lambda h: h.created_at, TIME, required=True), Attr("startedAt", lambda h: h.started_at, TIME),
    Attr("finishedAt", lambda h: h.finished_at, TIME), Attr("durationMs", lambda h: h.duration_ms, INT),
    Attr("endState", lambda h: h.end_state, choices=END_STATES), Attr("message", lambda h: h.message),
    Attr("exceptionType", lambda h: h.exception_type), Attr("exceptionSource", lambda h: h.exception_source))
_RECORD_CHILDREN = (
    Child("nodes", texts("nodes", "node", title="HistoryNodes"), lambda h: h.nodes, required=True),
    Child("healthChanges", wrapper("healthChanges", HEALTH_CHANGE), lambda h: h.health_changes or None),
    PIPELINE)

RECORD = Shape("processHistory", _RECORD_ATTRS, _RECORD_CHILDREN, title="ProcessHistoryRecord",
               doc="A process's record, as findHistory lists it.")
PROCESS_HISTORY = Shape("processHistory", _RECORD_ATTRS, (
    *_RECORD_CHILDREN,
    Child("elements", wrapper("elements", ELEMENT_VISIT, title="ElementVisits"), lambda h: h.elements, required=True),
    Child("operations", OPERATIONS, lambda h: h.operations, required=True),
), doc="A process's record with its trail (level activity) and the calls made on it (getHistory).")
PROCESS_HISTORIES = wrapper("processHistories", RECORD, doc="Process records (findHistory).")

END_STATE_COUNT = Shape("endState", attrs=(
    Attr("state", lambda kv: kv[0], required=True, choices=END_STATES), Attr("count", lambda kv: kv[1], INT,
                                                                              required=True)),
    title="EndStateCount")
_DURATIONS = (Attr("durationP50Ms", lambda s: s.duration_p50_ms, INT),
              Attr("durationP95Ms", lambda s: s.duration_p95_ms, INT),
              Attr("durationMaxMs", lambda s: s.duration_max_ms, INT))
ELEMENT_STATISTICS = Shape("element", attrs=(
    Attr("id", lambda e: e.id, required=True), Attr("count", lambda e: e.count, INT, required=True),
    Attr("failed", lambda e: e.failed, INT, required=True), *_DURATIONS), title="ElementStatistics")
PROCESS_STATISTICS = Shape("processStatistics", attrs=(
    Attr("processUri", lambda s: s.process_uri, required=True), Attr("count", lambda s: s.count, INT, required=True),
    Attr("failureRate", lambda s: s.failure_rate, FLOAT, required=True), *_DURATIONS,
), children=(
    Child("endStates", wrapper("endStates", END_STATE_COUNT, title="EndStateCounts"), lambda s: s.by_end_state,
          required=True),
    Child("elementStatistics", wrapper("elementStatistics", ELEMENT_STATISTICS, title="ElementStatisticsList"),
          lambda s: s.elements or None),
), doc="The processes of one processUri that ended in the window: how many, how, and how long they took.")
HISTORY_STATISTICS = wrapper("historyStatistics", PROCESS_STATISTICS,
                             doc="Statistics per processUri (getHistoryStatistics).")
