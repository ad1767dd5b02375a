"""Endpoints declared, not hand-parsed: each says its method, path, parameters, body and answer once;
the same declaration parses the request, renders the answer and writes the OpenAPI document.

A handler only translates: it receives the engine, the caller and the parsed arguments, makes one
call of `engine.operations`, and returns the engine's answer.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Iterator

from flask import Blueprint, Response, current_app, request
from lxml import etree

from engine.support import jsontext
from engine.errors import InvalidParameter
from schemas import datastore, query as query_form
from schemas.shapes import Shape, sized
from schemas.results import count_json, count_xml
from schemas.signatures import signature, snake_case
from schemas.snapshot import SNAPSHOT, SNAPSHOTS

from .auth import current_principal
from .params import (BLANK, JSON, XML_TYPES, Negotiated, Param, blank_file, body_kind, json_text_body, negotiate,
                     parse_boolean, parse_string, raw_body, release_body, spooled_body, spools, text_body)


@dataclass(frozen=True)
class FormField:
    name: str
    description: str = ""
    kind: str = "string"            # string | boolean | file: as the operation declares it
    arg: str | None = None

    @property
    def keyword(self) -> str:
        return self.arg or snake_case(self.name)


@dataclass(frozen=True)
class Body:
    kind: str                       # datastore | query | text | form
    arg: str                        # the handler's keyword
    required: bool = False
    description: str = ""
    fields: tuple[FormField, ...] = ()
    name: str | None = None         # as the spec names it, when that differs from `arg`
    json: str = "string"            # a text body's JSON alternative: string | boolean | strings
    empty: bool = False             # an empty text body is the empty text (not a missing body)
    records: str = "processes"      # a query body's: what it selects (filled in from the operation's declaration)


@dataclass(frozen=True)
class Answer:
    kind: str                       # shape | list | snapshot | optional_snapshot | snapshots | datastore | count | text
    shape: Shape | None = None      # | none; a list is one page (`items`) of `total` matches, the shape its wrapper
    description: str = ""


@dataclass
class Endpoint:
    method: str
    path: str                       # relative to {root}/rest, OpenAPI style: /processes/{executionId}
    operation: str                  # the spec's operation name (the SOAP name)
    params: tuple[Param, ...]
    body: Body | None
    answer: Answer
    tag: str
    free_params: str = ""           # a prefix of query parameters the handler reads itself (GET /run: "in.")


ENDPOINTS: list[Endpoint] = []


def endpoint(blueprint: Blueprint, method: str, path: str, operation: str, *, also: tuple[Param, ...] = (),
             body: Body | None = None, answer: Answer, free_params: str = "", tag: str | None = None) -> Callable:
    """Register a handler `(engine, principal, **arguments) -> result` for `method path`, its arguments
    the operation's parameters (`schemas.signatures`) in snake_case: those `body` does not carry are read
    from the path or the query, and `also` adds what only HTTP has (headers). What the operation does is
    documented once, for both doors, in schemas/operations.toml; `tag` is its section of the spec, where
    that is not the blueprint's."""
    params = (*_declared(operation, path, body), *also)
    body = _typed(operation, body)
    declared = Endpoint(method, path, operation, params, body, answer, tag or blueprint.name, free_params)
    ENDPOINTS.append(declared)

    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        reading = tuple((p, p.keyword, p.optional_query) for p in params)  # worked out once, not per request
        produces = PRODUCES[answer.kind]

        def view(**path_args: str) -> Response:
            principal = current_principal()  # who asks comes first: nothing is read for a stranger
            asked = request._get_current_object()  # type: ignore[attr-defined]  # once, not per proxy access
            negotiated = negotiate(asked, produces)
            args = asked.args
            arguments = {keyword: p.absent() if lazy and p.name not in args else p.read(asked, path_args, args)
                         for p, keyword, lazy in reading}
            if body is not None:
                arguments.update(read_body(body))
            engine = current_app.extensions["process_engine"]
            return render(answer, handler(engine, principal, **arguments), negotiated)

        view.__name__ = f"{operation}_{method.lower()}_{len(ENDPOINTS)}"
        # No automatic OPTIONS answer: it would answer a stranger without asking who calls (CONTRACT §8).
        blueprint.add_url_rule(path.replace("{", "<").replace("}", ">"), view.__name__, view, methods=[method],
                               provide_automatic_options=False)
        return handler
    return register


def _declared(operation: str, path: str, body: Body | None) -> tuple[Param, ...]:
    """The operation's parameters that travel in the path or the query: not in the body or its form,
    not documents (only a body carries those), not SOAP's own."""
    carried = {f.name for f in body.fields} | {body.arg, body.name} if body is not None else set()
    return tuple(Param.declared(p, path) for p in signature(operation)
                 if not (p.soap_only or p.document or p.name in carried or p.keyword in carried))


def _typed(operation: str, body: Body | None) -> Body | None:
    """The body with each form field's kind, or the query's records, as the operation declares them."""
    if body is not None and body.kind == "query":
        declared = next(p for p in signature(operation) if p.kind == "query")
        return replace(body, records=declared.records)
    if body is None or not body.fields:
        return body
    kinds = {p.name: "file" if p.kind == "ipd" else p.kind for p in signature(operation)}
    return replace(body, fields=tuple(replace(f, kind=kinds[f.name]) for f in body.fields))


# -- bodies -------------------------------------------------------------------------------------------
# What each kind of answer can be given as, for the Accept header (CONTRACT §2): none at all is any.
PRODUCES = {kind: (JSON, *XML_TYPES) for kind in ("shape", "list", "snapshot", "optional_snapshot", "snapshots",
                                                  "datastore", "count")}
PRODUCES.update(text=(), none=())  # a text-only answer is given as it is, whatever Accept says




def read_body(body: Body) -> dict[str, Any]:
    accepted = {"datastore": ("json", "xml"), "query": ("json", "xml"), "text": ("text", "json"), "form": ("form",)}
    kind = body_kind(request, accepted[body.kind])
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if body.kind == "datastore" and kind is not None and spools(request):
        with spooled_body(request, limit) as spool:
            if not blank_file(spool):
                return {body.arg: datastore.load_spooled(spool, spool.name)}
        raw = b""
    else:
        raw = raw_body(request, limit) if kind not in (None, "form") else b""
    if kind is None or (kind != "form" and BLANK.fullmatch(raw) and not (body.empty and kind == "text")):
        if body.required:
            raise InvalidParameter(body.name or body.arg, "a request body is required here")
        return {body.arg: None} if body.kind != "form" else {f.keyword: None for f in body.fields}
    if body.kind == "datastore":
        store = datastore.load(raw)
        release_body(request)
        return {body.arg: store}
    if body.kind == "query":
        return {body.arg: query_form.load(raw, query_form.LANGUAGES[body.records])}
    if body.kind == "text":
        name = body.name or body.arg
        return {body.arg: json_text_body(raw, name, body.json) if kind == "json" else text_body(request, name, limit)}
    return {f.keyword: _form_field(f) for f in body.fields}


def _form_field(form_field: FormField) -> Any:
    upload = request.files.get(form_field.name)
    if form_field.kind == "file":
        if upload is not None:
            return upload.read()
        text = request.form.get(form_field.name)
        return text.encode("utf-8") if text is not None else None
    text = upload.read().decode("utf-8", "replace") if upload is not None else request.form.get(form_field.name)
    if text is None or (form_field.kind == "boolean" and not text.strip()):
        return None
    return parse_boolean(form_field.name, text) if form_field.kind == "boolean" else parse_string(form_field.name,
                                                                                                  text.strip())


# -- answers ------------------------------------------------------------------------------------------
def render(answer: Answer, result: Any, negotiated: Negotiated) -> Response:
    kind = answer.kind
    if kind == "none" or (result is None and kind in ("optional_snapshot", "text")):
        response = Response(status=204)
        del response.headers["Content-Type"]  # nothing to type
        return response
    if kind == "text":
        text = ("true" if result else "false") if isinstance(result, bool) else str(result)
        return Response(text, mimetype="text/plain")
    if kind == "datastore":
        if negotiated.xml:
            return Response(sent(datastore.dump_xml_document(result, negotiated.simple)), mimetype="application/xml")
        return Response(sent(datastore.dump_json_document(result, negotiated.simple)), mimetype=JSON)
    if kind == "snapshots":
        return counted(shape_response(SNAPSHOTS, result.snapshots, negotiated), result.total,
                       result.total_is_lower_bound)
    if kind == "list":
        return counted(shape_response(answer.shape, result.items, negotiated), result.total, result.lower_bound)
    if kind == "count":
        return xml_response(count_xml(result)) if negotiated.xml else json_response(count_json(result))
    shape = SNAPSHOT if kind in ("snapshot", "optional_snapshot") else answer.shape
    return shape_response(shape, result, negotiated)


def counted(response: Response, total: int, lower_bound: bool) -> Response:
    """A page of a list with its total (CONTRACT §5): `X-Total-Count`, exact or, past
    `query.count_limit`, that limit with `X-Total-Count-Relation: gte`."""
    response.headers["X-Total-Count"] = str(total)
    if lower_bound:
        response.headers["X-Total-Count-Relation"] = "gte"
    return response


def shape_response(shape: Shape, result: Any, negotiated: Negotiated, status: int = 200) -> Response:
    if negotiated.xml:
        return Response(sent(shape.document(result, negotiated.options)), status=status, mimetype="application/xml")
    return Response(sent(shape.json_document(result, negotiated.options)), status=status, mimetype=JSON)


def sent(pieces: Iterable[bytes]) -> list[bytes] | Iterator[bytes]:
    """An answer's pieces as Flask is to send them: with its length, or as they are written (schemas.shapes.sized)."""
    held, streamed = sized(pieces)
    return held if streamed is None else streamed


def xml_response(element: etree._Element, status: int = 200) -> Response:
    body = etree.tostring(element, xml_declaration=True, encoding="UTF-8")
    return Response(body, status=status, mimetype="application/xml")


def json_response(document: Any, status: int = 200) -> Response:
    return Response(jsontext.dumps_utf8(document), status=status, mimetype=JSON)
