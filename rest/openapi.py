"""The OpenAPI 3 document of the REST door, generated from the endpoint declarations (rest/endpoint.py)
with apispec and the marshmallow schemas of `schemas/`, and documented from `schemas/operations.toml`:
every path, parameter, body and answer, typed through and through, so that generated clients
(openapi-python-client, @hey-api/openapi-ts) get models for every document and enum.

Decisions a reader must know:
- The server URL is the service's context root: the operations are under `/rest`, beside the health
  endpoints and the metrics, which the document describes too.
- An operation's ID is the spec's name; where two routes serve one operation, the later route's ID says
  how it differs (`runByGet`, `getWatcherAlias`).
- Every closed set of values is one named enum in `components` (`ENUMS`), referred to wherever it is
  used; an enum the registry does not name fails the build, so a new one gets a name.
"""
from __future__ import annotations

import json
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from engine.model.states import (AUTO_DISPOSE_NAMES, CONNECTION_STATUSES, DATA_LEVELS, FEATURE_STATES, HEALTH_NAMES,
                           LOG_LEVELS, NODE_SELECTIONS, ONLINE_RULES, SERVICE_STATES, STATE_NAMES)
from schemas import datastore, docs, query
from schemas.history import ELEMENT_OUTCOMES, END_STATES, OPERATION_OUTCOMES
from schemas.results import ERROR, MULTI_ERROR
from schemas.snapshot import SNAPSHOT, SNAPSHOTS

from .endpoint import ENDPOINTS, Answer, Body, Endpoint
from .params import DATASTORE_MODE, XML_TYPES, Param

TITLE = "Process Engine REST API"
REST = "/rest"
_TYPES = {"string": {"type": "string"}, "boolean": {"type": "boolean"},
          "integer": {"type": "integer", "format": "int64"},
          "timeout": {"type": "integer", "format": "int64", "minimum": -1},
          "timestamp": {"type": "string", "format": "date-time"}}
_ERRORS = {"400": "Malformed or wrong input", "401": "No or wrong credentials",
           "403": "The caller lacks a privilege", "404": "Unknown execution, watcher, service, definition, element",
           "406": "The answer cannot be given in a type the Accept header allows",
           "409": "The operation does not fit the current state", "413": "The body is too large",
           "415": "A body type the operation does not take", "503": "The engine or a needed feature is unavailable",
           "500": "A fault of the service itself (with an incident ID)"}
ENUMS = {
    "ExecutionState": STATE_NAMES, "HealthState": HEALTH_NAMES, "AutoDisposeMode": AUTO_DISPOSE_NAMES,
    "LogLevel": LOG_LEVELS, "DataLevel": DATA_LEVELS, "NodeSelection": NODE_SELECTIONS,
    "ConnectionStatus": CONNECTION_STATUSES, "OnlineRule": ONLINE_RULES, "ServiceState": SERVICE_STATES,
    "FeatureState": FEATURE_STATES, "DataStoreMode": DATASTORE_MODE.choices, "QueryField": query.FIELDS,
    "QueryOperation": query.OPERATIONS, "Status": ("UP", "DOWN"), "TotalCountRelation": ("gte",),
    **{f"{language.name}Field": language.fields for language in query.LANGUAGES.values() if language.prefix},
    "EndState": END_STATES, "OperationOutcome": OPERATION_OUTCOMES, "ElementOutcome": ELEMENT_OUTCOMES,
}
_SCHEMA_NAMES = {"_Body": "DataStore", "_Content": "StoredContent"}
# The JSON of a text/plain body, for clients that send only JSON (a JSON string, boolean or list).
_TEXT_AS_JSON = {"string": {"type": "string"}, "boolean": {"type": "boolean"},
                 "strings": {"type": "array", "items": {"type": "string"}}}


def _schema_name(schema: Any) -> str | None:
    """Components for named schemas; anonymous ones (marshmallow's `Generated…`) stay inline."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    if name.startswith("Generated"):
        return None
    name = _SCHEMA_NAMES.get(name, name.lstrip("_"))
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def build(version: str, root_url: str) -> dict[str, Any]:
    """The document; `root_url` is the service's context root (base URL and context path)."""
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    info = {"description": _INFO,
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"}}
    tags = [{"name": name, "description": text} for name, text in docs.tags().items()]
    spec = APISpec(TITLE, version, "3.0.3", plugins=[plugin], info=info, tags=tags,
                   servers=[{"url": root_url, "description": "This service: its context root."}])
    for field_class in datastore.STRING_FIELDS:
        plugin.map_to_openapi_type(field_class, fields.String)
    _components(spec)
    ids = operation_ids()
    for path in dict.fromkeys(e.path for e in ENDPOINTS):
        operations = {e.method.lower(): _operation(e, ids[id(e)]) for e in ENDPOINTS if e.path == path}
        spec.path(path=REST + path, operations=operations)
    for path, operations in _SERVICE_PATHS.items():
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    document["components"]["securitySchemes"] = {"basic": {"type": "http", "scheme": "basic"}}
    document["security"] = [{}, {"basic": []}]
    return _with_named_enums(document)


_INFO = ("Every operation of the Process Engine API over REST: run and steer XML-defined processes, query "
         "them, watch them, and administer the engine and its cluster. The same operations are offered over "
         "SOAP (`/soap?wsdl`). Bodies and answers are JSON or XML (`Content-Type`, `Accept`); data stores in "
         "answers come in the form `x-infinica-datastore-mode` asks for. Errors are "
         "`{\"type\": …, \"message\": …}` with the HTTP status of their type. Interactive documentation: "
         "`/rest/docs`.")


def operation_ids() -> dict[int, str]:
    """Each endpoint's operationId (by `id(endpoint)`): the spec's name; a later route serving the same
    operation says how it differs — its method (`runByGet`), or, with the same method, that it is an alias."""
    first: dict[str, Endpoint] = {}
    ids = {}
    for endpoint in ENDPOINTS:
        original = first.setdefault(endpoint.operation, endpoint)
        if original is endpoint:
            ids[id(endpoint)] = endpoint.operation
        elif original.method != endpoint.method:
            ids[id(endpoint)] = f"{endpoint.operation}By{endpoint.method.title()}"
        else:
            ids[id(endpoint)] = f"{endpoint.operation}Alias"
    return ids


def _components(spec: APISpec) -> None:
    spec.components.schema("Error", schema=ERROR.schema())
    spec.components.schema("MultiErrorDocument", schema=Schema.from_dict(
        {"multiErrorResponse": fields.Nested(Schema.from_dict({"errors": fields.Nested(MULTI_ERROR.schema())}))},
        name="MultiErrorResponse"))
    spec.components.schema("DataStoreDocument", schema=Schema.from_dict(
        {"dataStore": fields.Nested(datastore.JSON_BODY_SCHEMA, required=True)}, name="DataStoreJson"))
    for language in query.LANGUAGES.values():  # QueryDocument, HistoryQueryDocument, OperationLogQueryDocument
        spec.components.schema(f"{language.name}Document", schema=Schema.from_dict(
            {"query": fields.Nested(language.json.document, required=True)}, name=f"{language.name}Json"))
    spec.components.schema("CountDocument", {"type": "object", "required": ["count"], "additionalProperties": False,
                                             "properties": {"count": {"type": "integer", "format": "int64",
                                                                      "minimum": 0}}})
    for name, values in ENUMS.items():
        spec.components.schema(name, {"type": "string", "enum": list(values)})


def _operation(endpoint: Endpoint, operation_id: str) -> dict[str, Any]:
    doc = docs.operation(endpoint.operation)
    params = list(endpoint.params) + ([DATASTORE_HEADER] if _has_store(endpoint.answer) else [])
    parameters = [_parameter(p, endpoint, doc.example.query) for p in params]
    if endpoint.free_params:
        parameters.append(_free_parameter(endpoint, doc.example.query))
    summary, description = doc.summary, doc.description
    if operation_id != endpoint.operation:
        summary = f"{summary} ({operation_id[len(endpoint.operation):].replace('By', 'by ').lower().strip()})"
        description += f"\n\nAnother route to the operation `{endpoint.operation}`."
    operation: dict[str, Any] = {"operationId": operation_id, "summary": summary, "description": description,
                                 "tags": [endpoint.tag], "parameters": parameters,
                                 "responses": _responses(endpoint.answer, doc.example.answer)}
    if endpoint.body is not None:
        operation["requestBody"] = _body(endpoint.body, doc.example)
    return operation


def _has_store(answer: Answer) -> bool:
    return answer.kind in ("snapshot", "optional_snapshot", "snapshots", "datastore") or answer.shape is not None


def _parameter(param: Param, endpoint: Endpoint | None = None, examples: dict | None = None) -> dict[str, Any]:
    schema = dict(_TYPES[param.kind])
    if param.choices:
        schema["enum"] = list(param.choices)
    if param.default is not None and not param.many:
        schema["default"] = param.default
    description = param.description or docs.parameter(param.name, endpoint and endpoint.operation)
    if param.many:
        schema = {"type": "array", "items": schema}
        description += " Repeat the parameter, or give one comma-separated value."
    result = {"name": param.name, "in": param.where, "required": param.required or param.where == "path",
              "schema": schema, "description": description.strip()}
    if param.many:
        result.update(style="form", explode=True)
    example = (examples or {}).get(param.name)
    if example is not None:
        result["example"] = _typed_example(param, example)
    return result


def _typed_example(param: Param, value: Any) -> Any:
    """An example value of the parameter's schema type (the documentation writes them as query text)."""
    if param.many:
        items = value if isinstance(value, list) else str(value).split(",")
        return [_typed_example(Param(param.name, param.kind), item) for item in items]
    if param.kind == "boolean":
        return value if isinstance(value, bool) else str(value).lower() in ("true", "1")
    if param.kind in ("integer", "timeout"):
        return int(value)
    return str(value)


def _free_parameter(endpoint: Endpoint, examples: dict) -> dict[str, Any]:
    """`in.NAME=VALUE` query parameters, as one exploded object whose keys are the parameters' names."""
    given = {k: v for k, v in examples.items() if k.startswith(endpoint.free_params)}
    result = {"name": "inputs", "in": "query", "required": False, "style": "form", "explode": True,
              "schema": {"type": "object", "additionalProperties": {"type": "string"}},
              "description": docs.parameter("in.NAME", endpoint.operation) or
              f"Process parameters as `{endpoint.free_params}NAME=VALUE` (each key of this object is one)."}
    if given:
        result["example"] = given
    return result


def _body(body: Body, example: docs.Example) -> dict[str, Any]:
    if body.kind == "text":
        content = {"text/plain": {"schema": {"type": "string"}},
                   "application/json": {"schema": dict(_TEXT_AS_JSON[body.json])}}
        if example.text is not None:
            content["text/plain"]["example"] = example.text
            content["application/json"]["example"] = _text_as_json(example.text, body.json)
    elif body.kind == "form":
        properties = {f.name: ({"type": "string", "format": "binary"} if f.kind == "file" else _TYPES[f.kind])
                      for f in body.fields}
        content = {"multipart/form-data": {"schema": {"type": "object", "properties": properties}}}
    else:
        language = query.LANGUAGES[body.records]
        name = "DataStoreDocument" if body.kind == "datastore" else f"{language.name}Document"
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}},
                   **{t: {"schema": {"type": "string"}} for t in XML_TYPES}}
        if example.request is not None:
            content["application/json"]["example"] = _canonical(body.kind, example.request, language)
    return {"required": body.required, "description": body.description, "content": content}


def _canonical(kind: str, text: str, language: query.Language = query.PROCESSES) -> dict[str, Any]:
    """An example body read and written again by the marshallers the service uses: the form the document
    describes (every repeatable an array), and one the service is known to take."""
    if kind == "query":
        return query.dump_json(query.load(text, language))
    return datastore.dump_json(datastore.load(text), simple='"entry"' in text)


def _text_as_json(text: str, kind: str) -> Any:
    if kind == "boolean":
        return text.strip().lower() in ("true", "1")
    return [part for part in text.split(",") if part] if kind == "strings" else text


def _responses(answer: Answer, example: str | None) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if answer.kind in ("none", "optional_snapshot", "text"):
        responses["204"] = {"description": "Nothing to answer."}
    if answer.kind == "text":
        responses["200"] = {"description": answer.description, "content": {"text/plain": {"schema": {"type": "string"}}}}
    elif answer.kind != "none":
        content = _answer_content(answer)
        if example is not None:
            content["application/json"]["example"] = json.loads(example)
        responses["200"] = {"description": answer.description or "The answer.", "content": content}
        if answer.kind in ("snapshots", "list"):
            responses["200"]["headers"] = {
                "X-Total-Count": {"schema": {"type": "integer"}, "description": "Matches before offset and limit "
                                  "(exact up to query.count_limit, then that limit)."},
                "X-Total-Count-Relation": {"schema": {"type": "string", "enum": ["gte"]},
                                           "description": "gte: there are at least X-Total-Count matches."}}
    for status, description in _ERRORS.items():
        schema = {"$ref": "#/components/schemas/Error"}
        if status == "400":
            schema = {"oneOf": [schema, {"$ref": "#/components/schemas/MultiErrorDocument"}]}
        responses[status] = {"description": description,
                             "content": {"application/json": {"schema": schema},
                                         **{t: {"schema": {"type": "string"}} for t in XML_TYPES}}}
    return responses


def _answer_content(answer: Answer) -> dict[str, Any]:
    if answer.kind == "datastore":
        json_schema: Any = {"$ref": "#/components/schemas/DataStoreDocument"}
    elif answer.kind == "count":
        json_schema = {"$ref": "#/components/schemas/CountDocument"}
    else:
        shape = SNAPSHOTS if answer.kind == "snapshots" else SNAPSHOT if "snapshot" in answer.kind else answer.shape
        json_schema = shape.document_schema()
    return {"application/json": {"schema": json_schema}, **{t: {"schema": {"type": "string"}} for t in XML_TYPES}}


DATASTORE_HEADER = Param("x-infinica-datastore-mode", where="header", choices=DATASTORE_MODE.choices,
                         description="The form of data stores in the answer: simple (the default) or standard.")


# -- what the service answers beside the operations --------------------------------------------------
def _service_operation(operation: str, tag: str, content: dict[str, Any], status: dict[str, str]) -> dict[str, Any]:
    """An endpoint of the service beside the operations; the health probes answer without credentials."""
    doc = docs.operation(operation)
    responses = {code: {"description": text, "content": content} for code, text in status.items()}
    described = {"operationId": operation, "summary": doc.summary, "description": doc.description, "tags": [tag],
                 "responses": responses}
    if tag == "health":
        described["security"] = [{}]
    else:
        responses["401"] = {"description": _ERRORS["401"],
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    return described


_PROBE = {"application/json": {"schema": {
    "type": "object", "required": ["status"], "properties": {
        "status": {"type": "string", "enum": ["UP", "DOWN"]}, "node": {"type": "string"},
        "instantiate": {"type": "string", "enum": list(FEATURE_STATES)}}}}}
_SERVICE_PATHS = {
    "/health/live": {"get": _service_operation("live", "health", _PROBE, {"200": "The process is up."})},
    "/health/ready": {"get": _service_operation("ready", "health", _PROBE, {
        "200": "The node takes work.", "503": "The node does not take work now."})},
    "/metrics": {"get": _service_operation("metrics", "metrics", {"text/plain": {"schema": {"type": "string"}}},
                                           {"200": "Prometheus metrics in the text exposition format."})},
}


# -- named enums ---------------------------------------------------------------------------------------
_BY_VALUES = {tuple(values): name for name, values in ENUMS.items()}


def _with_named_enums(document: dict[str, Any]) -> dict[str, Any]:
    """Every inline enum replaced by a reference to its named schema (keeping what the place adds, such
    as a default or a description, beside the reference)."""
    schemas = document["components"]["schemas"]
    named = {name: schemas.pop(name) for name in ENUMS}
    document = _named(document)
    schemas = document["components"]["schemas"]
    schemas.update(named)
    return document


def _named(node: Any) -> Any:
    if isinstance(node, list):
        return [_named(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "enum" in node and isinstance(node["enum"], list) and node.get("type") == "string":
        name = _BY_VALUES.get(tuple(node["enum"]))
        if name is None:
            raise ValueError(f"the enum {node['enum']} has no name in rest.openapi.ENUMS")
        rest = {k: v for k, v in node.items() if k not in ("type", "enum")}
        reference = {"$ref": f"#/components/schemas/{name}"}
        return {"allOf": [reference], **rest} if rest else reference
    return {key: _named(value) for key, value in node.items()}
