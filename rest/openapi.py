"""The OpenAPI 3 document of the REST door, generated from the endpoint declarations (rest/endpoint.py)
with apispec and the marshmallow schemas of `schemas/`: every path, parameter, body and answer."""
from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema, fields

from schemas import datastore, query
from schemas.results import ERROR, MULTI_ERROR
from schemas.snapshot import SNAPSHOT, SNAPSHOTS

from .endpoint import ENDPOINTS, Answer, Body, Endpoint
from .params import Param

XML_TYPES = ("application/xml", "text/xml")
_TYPES = {"string": {"type": "string"}, "boolean": {"type": "boolean"}, "integer": {"type": "integer"},
          "timeout": {"type": "integer", "minimum": -1}, "timestamp": {"type": "string", "format": "date-time"}}
_ERRORS = {"400": "Malformed or wrong input", "401": "No or wrong credentials",
           "403": "The caller lacks a privilege", "404": "Unknown execution, watcher, service, definition, element",
           "409": "The operation does not fit the current state", "413": "The body is too large",
           "415": "A body type the operation does not take", "503": "The engine or a needed feature is unavailable",
           "500": "A fault of the service itself (with an incident ID)"}


def _schema_name(schema: Any) -> str | None:
    """Components for named schemas; anonymous ones (marshmallow's `Generated…`) stay inline."""
    cls = schema if isinstance(schema, type) else type(schema)
    name = cls.__name__
    if name.startswith("Generated"):
        return None
    return name[:-6] if name.endswith("Schema") and len(name) > 6 else name


def build(version: str, server_url: str) -> dict[str, Any]:
    plugin = MarshmallowPlugin(schema_name_resolver=_schema_name)
    spec = APISpec("process-engine REST API", version, "3.0.3", plugins=[plugin], servers=[{"url": server_url}],
                   info={"description": "Every operation of the Process Engine API over REST (CONTRACT §1-§6)."})
    for field_class in datastore.STRING_FIELDS:
        plugin.map_to_openapi_type(field_class, fields.String)
    _components(spec)
    for path in dict.fromkeys(e.path for e in ENDPOINTS):
        operations = {e.method.lower(): _operation(e) for e in ENDPOINTS if e.path == path}
        spec.path(path=path, operations=operations)
    document = spec.to_dict()
    document["components"]["securitySchemes"] = {"basic": {"type": "http", "scheme": "basic"}}
    document["security"] = [{}, {"basic": []}]
    return document


def _components(spec: APISpec) -> None:
    spec.components.schema("Error", schema=ERROR.schema())
    spec.components.schema("MultiErrorDocument", schema=Schema.from_dict(
        {"multiErrorResponse": fields.Nested(Schema.from_dict({"errors": fields.Nested(MULTI_ERROR.schema())}))},
        name="MultiErrorResponse"))
    spec.components.schema("DataStoreDocument", schema=Schema.from_dict(
        {"dataStore": fields.Nested(datastore.JSON_BODY_SCHEMA, required=True)}, name="DataStoreJson"))
    spec.components.schema("QueryDocument", schema=Schema.from_dict(
        {"query": fields.Nested(query.JSON_SCHEMA, required=True)}, name="QueryJson"))


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    params = list(endpoint.params) + ([DATASTORE_HEADER] if _has_store(endpoint.answer) else [])
    operation: dict[str, Any] = {"operationId": f"{endpoint.operation}_{endpoint.method.lower()}_{_slug(endpoint.path)}",
                                 "summary": endpoint.summary or endpoint.operation, "tags": [endpoint.tag],
                                 "parameters": [_parameter(p) for p in params], "responses": _responses(endpoint.answer)}
    if endpoint.body is not None:
        operation["requestBody"] = _body(endpoint.body)
    return operation


def _slug(path: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in path).strip("_")


def _has_store(answer: Answer) -> bool:
    return answer.kind in ("snapshot", "optional_snapshot", "snapshots", "datastore") or answer.shape is not None


def _parameter(param: Param) -> dict[str, Any]:
    schema = dict(_TYPES[param.kind])
    if param.choices:
        schema["enum"] = list(param.choices)
    if param.default is not None and not param.many:
        schema["default"] = param.default
    description = param.description
    if param.many:
        schema = {"type": "array", "items": schema}
        description += " Repeat the parameter, or give one comma-separated value."
    result = {"name": param.name, "in": param.where, "required": param.required or param.where == "path",
              "schema": schema, "description": description.strip()}
    if param.many:
        result.update(style="form", explode=True)
    return result


def _body(body: Body) -> dict[str, Any]:
    if body.kind == "text":
        content = {"text/plain": {"schema": {"type": "string"}}}
    elif body.kind == "form":
        properties = {f.name: ({"type": "string", "format": "binary"} if f.kind == "file" else _TYPES[f.kind])
                      for f in body.fields}
        content = {"multipart/form-data": {"schema": {"type": "object", "properties": properties}}}
    else:
        name = "DataStoreDocument" if body.kind == "datastore" else "QueryDocument"
        content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}},
                   **{t: {"schema": {"type": "string"}} for t in XML_TYPES}}
    return {"required": body.required, "description": body.description, "content": content}


def _responses(answer: Answer) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if answer.kind in ("none", "optional_snapshot", "text"):
        responses["204"] = {"description": "Nothing to answer."}
    if answer.kind == "text":
        responses["200"] = {"description": answer.description, "content": {"text/plain": {"schema": {"type": "string"}}}}
    elif answer.kind != "none":
        responses["200"] = {"description": answer.description or "The answer.", "content": _answer_content(answer)}
        if answer.kind == "snapshots":
            responses["200"]["headers"] = {"X-Total-Count": {"schema": {"type": "integer"},
                                                             "description": "Matches before offset and limit."}}
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
    else:
        shape = SNAPSHOTS if answer.kind == "snapshots" else SNAPSHOT if "snapshot" in answer.kind else answer.shape
        json_schema = shape.document_schema()
    return {"application/json": {"schema": json_schema}, **{t: {"schema": {"type": "string"}} for t in XML_TYPES}}


DATASTORE_HEADER = Param("x-infinica-datastore-mode", where="header", choices=("simple", "standard"),
                         description="The form of data stores in the answer (default simple).")
