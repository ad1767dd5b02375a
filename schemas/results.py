"""The results of the watcher, administration, service, cluster and diagnostic operations, and the
error bodies, as shapes (see schemas/shapes.py). Names follow the spec where it gives them; where it
does not, they are decided here and documented in the README."""
from __future__ import annotations

import re
from typing import Any

from lxml import etree

from engine.errors import AuthorizationError, EngineError, MultiError
from engine.model.states import CONNECTION_STATUSES, FEATURE_STATES, ONLINE_RULES, SERVICE_STATES

from .namespaces import PROCESS
from .shapes import BOOL, INT, TIME, Attr, Child, Shape, tag, texts, wrapper
from .snapshot import SNAPSHOT

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

ATTRIBUTE = Shape("attribute", attrs=(Attr("name", lambda kv: kv[0], required=True),), text=lambda kv: kv[1])
ATTRIBUTES = Shape("attributes", children=(Child("attribute", ATTRIBUTE, lambda d: list(d.items()), many=True,
                                                 required=True),), doc="getAttributes: name and text value each.")

WATCHER = Shape("processWatcher", attrs=(
    Attr("id", lambda w: w.id, required=True), Attr("executionId", lambda w: w.execution_id, required=True),
    Attr("groupId", lambda w: w.group_id), Attr("finished", lambda w: w.finished, BOOL, required=True),
), children=(Child("processExecutionSnapshot", SNAPSHOT, lambda w: w.snapshot),),
    doc="A process watcher; once finished, with the snapshot it captured.")

FEATURE = Shape("feature", attrs=(Attr("name", lambda f: f.name, required=True),
                                  Attr("state", lambda f: f.state, required=True, choices=FEATURE_STATES)))
FEATURES = wrapper("features", FEATURE, doc="Features and their states: active, inactive, disabled.")

MAINTENANCE_LEVEL = Shape("maintenanceLevel", attrs=(
    Attr("id", lambda m: m.id, required=True), Attr("label", lambda m: m.label, required=True),
    Attr("online", lambda m: m.online, required=True, choices=ONLINE_RULES)),
    doc="A maintenance level of the settings.")

MODULE_PARAMETER = Shape("parameter", attrs=(Attr("name", lambda kv: kv[0], required=True),),
                         text=lambda kv: kv[1], title="ModuleParameter")
OPERATION = Shape("operation", attrs=(Attr("name", lambda o: o.name, required=True),), children=(
    Child("description", None, lambda o: o.description),
    Child("parameters", wrapper("parameters", MODULE_PARAMETER, title="ModuleParameters"), lambda o: o.parameters,
          required=True)))
MODULE = Shape("module", attrs=(Attr("name", lambda m: m.name, required=True), Attr("version", lambda m: m.version)),
               children=(Child("description", None, lambda m: m.description),
                         Child("operations", wrapper("operations", OPERATION), lambda m: m.operations, required=True)))
MODULES = wrapper("modules", MODULE, doc="The installed modules, described in the asked language.")

CLUSTER = Shape("cluster", attrs=(
    Attr("rootNode", lambda c: c.root_node, required=True), Attr("master", lambda c: c.master, BOOL, required=True),
    Attr("connectionStatus", lambda c: c.connection_status, required=True, choices=CONNECTION_STATUSES),
    Attr("statusMessage", lambda c: c.status_message),
), children=(Child("waitStateHandlers", texts("waitStateHandlers", "handler"), lambda c: c.wait_state_handlers,
                   required=True),))
NODE_STATE = Shape("nodeState", attrs=(
    Attr("engineId", lambda n: n.engine_id, required=True), Attr("online", lambda n: n.online, BOOL, required=True),
    Attr("runningProcesses", lambda n: n.running_processes, INT, required=True),
), children=(Child("cluster", CLUSTER, lambda n: n.cluster, required=True),), doc="The state of one engine node.")
NODE_STATES = wrapper("nodeStates", NODE_STATE, doc="Every node of the cluster.")

DEFINITION = Shape("processDefinition", attrs=(
    Attr("uri", lambda d: d.uri, required=True), Attr("name", lambda d: d.name),
    Attr("changedAt", lambda d: d.changed_at, TIME, required=True)))
DEFINITIONS = wrapper("processDefinitions", DEFINITION, doc="The definitions in the repository.")

SERVICE = Shape("service", attrs=(
    Attr("id", lambda s: s.id, required=True), Attr("autostart", lambda s: s.autostart, BOOL, required=True),
    Attr("threadPoolId", lambda s: s.thread_pool_id), Attr("processUri", lambda s: s.process_uri, required=True),
    Attr("state", lambda s: s.state, required=True, choices=SERVICE_STATES),
), children=(Child("description", None, lambda s: s.description or None),))
SERVICES = wrapper("serviceConfigInfos", SERVICE, doc="The service processes of the settings, with their state.")

PROBLEM = Shape("problem", attrs=(Attr("check", lambda p: p.check, required=True),
                                  Attr("executionId", lambda p: p.execution_id)), text=lambda p: p.message)
SANITY_REPORT = Shape("sanityReport", children=(
    Child("checks", texts("checks", "check"), lambda r: r.checks, required=True),
    Child("problems", wrapper("problems", PROBLEM), lambda r: r.problems, required=True),
), doc="The checks run and the problems they found; no problems: all is well.")

TELEMETRY_VALUE = Shape("value", attrs=(Attr("name", lambda kv: kv[0], required=True),), text=lambda kv: kv[1],
                        title="TelemetryValue")
TELEMETRY_ITEM = Shape("item", attrs=(Attr("type", lambda i: i.type, required=True),
                                      Attr("id", lambda i: i.id, required=True)),
                       children=(Child("value", TELEMETRY_VALUE, lambda i: i.values, many=True, required=True),),
                       title="TelemetryItem")
TELEMETRY = Shape("telemetryData", children=(
    Child("types", texts("types", "type"), lambda t: t.types, required=True),
    Child("items", wrapper("items", TELEMETRY_ITEM, title="TelemetryItems"), lambda t: t.items, required=True),
), doc="Telemetry of the asked types.")

ERROR = Shape("error", attrs=(
    Attr("type", lambda e: e["type"], required=True), Attr("message", lambda e: e["message"], required=True),
    Attr("userId", lambda e: e.get("userId")), Attr("permissionName", lambda e: e.get("permissionName")),
    Attr("resourceName", lambda e: e.get("resourceName")), Attr("resourceId", lambda e: e.get("resourceId")),
    Attr("incidentId", lambda e: e.get("incidentId")),
), doc="An error (CONTRACT §6).")

ENTRY = Shape("entry", children=(Child("key", None, lambda kv: kv[0]), Child("value", None, lambda kv: kv[1])))
MULTI_ERROR = Shape("errors", children=(Child("entry", ENTRY, lambda d: list(d.items()), many=True, required=True),),
                    title="MultiErrors", doc="Per-entity failures (spec: Multi-Error Responses).")


def carryable(text: str) -> str:
    """`text` with every character XML (or UTF-8) cannot carry written as \\u and four hex digits: error
    messages echo what a caller sent, and the error must still be answered."""
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def error_fields(error: EngineError) -> dict[str, Any]:
    """What an error body says: its type and message, and for a 403 who lacked what on which."""
    body: dict[str, Any] = {"type": error.type, "message": carryable(error.message)}
    if isinstance(error, AuthorizationError):
        body.update(userId=carryable(error.user_id), permissionName=error.permission_name,
                    resourceName=error.resource_name, resourceId=carryable(error.resource_id))
    if error.incident:
        body["incidentId"] = error.incident
    return body


def error_xml(error: EngineError) -> etree._Element:
    """`<error type message …/>`; a multi-error as the spec writes it: `<pe:errors>` holding unqualified
    `entry` elements with `key` and `value`."""
    if not isinstance(error, MultiError):
        return ERROR.xml(error_fields(error))
    root = etree.Element(tag("errors"), nsmap={"pe": PROCESS})
    for key, value in error.errors.items():
        entry = etree.SubElement(root, "entry")
        etree.SubElement(entry, "key").text = carryable(key)
        etree.SubElement(entry, "value").text = carryable(value)
    return root


def error_json(error: EngineError) -> dict[str, Any]:
    """CONTRACT §6: `{"type", "message"}` (plus the 403 details); a multi-error as the spec writes it."""
    if isinstance(error, MultiError):
        errors = {carryable(k): carryable(v) for k, v in error.errors.items()}
        return {"multiErrorResponse": {"errors": MULTI_ERROR.body(errors, {})}}
    return error_fields(error)


def count_xml(count: int) -> etree._Element:
    """countExecutions' answer (CONTRACT §5): `<count>n</count>`."""
    element = etree.Element(tag("count"), nsmap={None: PROCESS})
    element.text = str(count)
    return element


def count_json(count: int) -> dict[str, int]:
    return {"count": count}
