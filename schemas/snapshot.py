"""Snapshots and the other results of the lifecycle and state-query operations, as shapes (see
`schemas/shapes.py`): XML in the namespace http://www.infinica.com/process-engine, pipelines in the
datastore's, and JSON the simple JSON form of that XML (CONTRACT §2)."""
from __future__ import annotations

from typing import Any, Callable, Sequence

from lxml import etree
from marshmallow import fields

from engine.model.datastore import DataStore
from engine.model.results import ExecutionIds, Snapshot, ValidationResult
from engine.model.states import AUTO_DISPOSE_NAMES, HEALTH_NAMES, STATE_NAMES

from . import datastore
from .shapes import BOOL, INT, TIME, Attr, Child, Custom, Shape, wrapper

DEFINITION_INFO = Shape("definitionInfo", attrs=(
    Attr("changedAt", lambda d: d.changed_at, TIME), Attr("location", lambda d: d.location, required=True),
    Attr("name", lambda d: d.name), Attr("uri", lambda d: d.uri, required=True),
    Attr("version", lambda d: d.version, INT, required=True)))

_REPORT_ATTRS = (Attr("message", lambda r: r.message, required=True), Attr("source", lambda r: r.source),
                 Attr("type", lambda r: r.type, required=True))
_CAUSE = Custom("cause", lambda r: r.cause, lambda element, cause, o: CAUSE.fill(element, cause, o),
                lambda cause, o: CAUSE.body(cause, o), fields.Nested(lambda: CAUSE.schema()))
CAUSE = Shape("cause", _REPORT_ATTRS, (_CAUSE,))
EXCEPTION_REPORT = Shape("exceptionReport", _REPORT_ATTRS, (_CAUSE,))

HEALTH = Shape("health", attrs=(Attr("state", lambda h: h.state.value, required=True, choices=HEALTH_NAMES),
                                Attr("message", lambda h: h.message), Attr("exceptionType", lambda h: h.exception_type)))
ACE = Shape("ace", attrs=(Attr("name", lambda a: a.name, required=True),),
            children=(Child("privilege", None, lambda a: a.privileges, many=True),))
PERMISSIONS = wrapper("permissions", ACE)


def data_store_child(name: str, read: Callable[[Any], DataStore | None], description: str) -> Custom:
    """A child holding a data store, in the form the caller asks for (x-infinica-datastore-mode)."""
    return Custom(name, read,
                  lambda element, store, o: datastore.dump_xml_into(element, store, o.get("simple", True)),
                  lambda store, o: datastore.dump_json_body(store, o.get("simple", True)),
                  fields.Nested(datastore.JSON_BODY_SCHEMA, metadata={"description": description}),
                  lambda store, o: datastore.xml_markup(store, o.get("simple", True)),
                  lambda store, o: datastore.json_markup(store, o.get("simple", True)), "Pipeline")


PIPELINE = data_store_child("pipeline", lambda s: s.pipeline,
                            "The pipeline: a data store in the form x-infinica-datastore-mode asks for.")

SNAPSHOT = Shape("processExecutionSnapshot", attrs=(
    Attr("autoDispose", lambda s: s.auto_dispose.value, required=True, choices=AUTO_DISPOSE_NAMES),
    Attr("createdAt", lambda s: s.created_at, TIME, required=True),
    Attr("currentElement", lambda s: s.current_element),
    Attr("currentTime", lambda s: s.current_time, TIME, required=True),
    Attr("currentUser", lambda s: s.current_user, required=True), Attr("debug", lambda s: s.debug, BOOL, required=True),
    Attr("executionId", lambda s: s.execution_id, required=True), Attr("externalId", lambda s: s.external_id),
    Attr("finishedAt", lambda s: s.finished_at, TIME), Attr("locked", lambda s: s.locked, BOOL, required=True),
    Attr("message", lambda s: s.message), Attr("online", lambda s: s.online, BOOL, required=True),
    Attr("owner", lambda s: s.owner, required=True), Attr("ownerNode", lambda s: s.owner_node),
    Attr("processEngineId", lambda s: s.process_engine_id, required=True),
    Attr("startedAt", lambda s: s.started_at, TIME), Attr("state", lambda s: s.state.value, required=True, choices=STATE_NAMES),
    Attr("stateChangeIndex", lambda s: s.state_change_index, INT, required=True),
    Attr("threadPoolId", lambda s: s.thread_pool_id),
), children=(
    Child("definitionInfo", DEFINITION_INFO, lambda s: s.definition, required=True),
    Child("exceptionReport", EXCEPTION_REPORT, lambda s: s.exception),
    Child("health", HEALTH, lambda s: s.health, required=True),
    Child("permissions", PERMISSIONS, lambda s: s.permissions or None),
    PIPELINE,
), doc="A snapshot of a process instance (spec: Process Snapshot).")

SNAPSHOTS = wrapper("processExecutionSnapshots", SNAPSHOT, doc="A list of snapshots.")

PARAMETER = Shape("parameter", attrs=(Attr("name", lambda p: p.name, required=True),
                                      Attr("type", lambda p: p.type, required=True),
                                      Attr("required", lambda p: p.required, BOOL, required=True)))
ELEMENT = Shape("element", attrs=(Attr("id", lambda element_id: element_id, required=True),))
VALIDATION = Shape("processValidationResult", attrs=(
    Attr("uri", lambda r: r.uri, required=True), Attr("name", lambda r: r.name)), children=(
    Child("parameters", wrapper("parameters", PARAMETER), lambda r: r.parameters, required=True),
    Child("elements", wrapper("elements", ELEMENT), lambda r: r.elements, required=True),
), doc="What validate reports of a valid definition.")

EXECUTION_IDS = Shape("executionIds", attrs=(Attr("count", lambda r: r.count, INT, required=True),),
                      children=(Child("executionId", None, lambda r: r.execution_ids, many=True),),
                      doc="How many processes an operation disposed or recovered (and which, when asked).")


def _options(simple: bool) -> dict[str, Any]:
    return {"simple": simple}


# -- the functions the doors call -------------------------------------------------------------------
def dump_xml(snapshot: Snapshot, simple: bool = True, parent: etree._Element | None = None) -> etree._Element:
    return SNAPSHOT.xml(snapshot, parent, _options(simple))


def dump_json(snapshot: Snapshot, simple: bool = True) -> dict[str, Any]:
    return SNAPSHOT.json(snapshot, _options(simple))


def dump_json_body(snapshot: Snapshot, simple: bool = True) -> dict[str, Any]:
    return SNAPSHOT.body(snapshot, _options(simple))


def dump_list_xml(snapshots: Sequence[Snapshot], simple: bool = True) -> etree._Element:
    return SNAPSHOTS.xml(snapshots, None, _options(simple))


def dump_list_json(snapshots: Sequence[Snapshot], simple: bool = True) -> dict[str, Any]:
    return SNAPSHOTS.json(snapshots, _options(simple))


def dump_validation_xml(result: ValidationResult) -> etree._Element:
    return VALIDATION.xml(result)


def dump_validation_json(result: ValidationResult) -> dict[str, Any]:
    return VALIDATION.json(result)


def dump_execution_ids_xml(result: ExecutionIds) -> etree._Element:
    return EXECUTION_IDS.xml(result)


def dump_execution_ids_json(result: ExecutionIds) -> dict[str, Any]:
    return EXECUTION_IDS.json(result)
