"""Errors to HTTP, mapped once (CONTRACT §6): a typed body in the negotiated format, the right status,
never a traceback; an unexpected failure is a 500 with an incident ID that is in the log."""
from __future__ import annotations

import logging

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from engine import errors as e
from schemas.results import error_json, error_xml

from .auth import current_principal
from .endpoint import json_response, xml_response
from .params import wants_xml

log = logging.getLogger("process_engine.rest")

STATUS = {
    e.InvalidInput: 400, e.Unauthenticated: 401, e.AuthorizationError: 403, e.NotFound: 404, e.NotAcceptable: 406,
    e.InvalidState: 409, e.PayloadTooLarge: 413, e.UnsupportedMediaType: 415, e.Unavailable: 503,
}
CHALLENGE = 'Basic realm="process-engine"'


def status_of(error: e.EngineError) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS:
            return STATUS[kind]
    return 500


class RouteNotFound(e.NotFound):
    def __init__(self, path: str) -> None:
        e.EngineError.__init__(self, f"no operation at {path}")


class MethodNotAllowed(e.InvalidInput):
    type = "InvalidParameter"


def register(app: Flask) -> None:
    app.register_error_handler(e.EngineError, respond)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(Exception, _unexpected)


def respond(error: e.EngineError, allow: list[str] | None = None) -> Response:
    status = status_of(error)
    xml = wants_xml(request)
    response = xml_response(error_xml(error), status) if xml else json_response(error_json(error), status)
    if status == 401:
        response.headers["WWW-Authenticate"] = CHALLENGE
    if isinstance(error, MethodNotAllowed):
        response.status_code = 405
        response.headers["Allow"] = ", ".join(allow or ())
    return response


def _http(exc: HTTPException) -> Response:
    """Werkzeug's own refusals (no such route, wrong method, body too large, …) as typed errors — to
    a caller without valid credentials only the challenge (CONTRACT §8), as the operations answer."""
    if isinstance(exc, RequestEntityTooLarge):
        return respond(e.PayloadTooLarge("the request body is larger than this service accepts"))
    try:
        current_principal()
    except e.Unauthenticated as refused:
        return respond(refused)
    if exc.code == 404:
        return respond(RouteNotFound(request.path))
    if exc.code == 405:
        allowed = sorted(getattr(exc, "valid_methods", None) or ())
        return respond(MethodNotAllowed(f"{request.method} is not allowed on {request.path}"), allow=allowed)
    if exc.code and exc.code < 500:
        return respond(e.InvalidInput(exc.description or exc.name))
    return _unexpected(exc)


def _unexpected(exc: Exception) -> Response:
    error = e.InternalError()
    log.error("incident %s: %s %s failed", error.incident, request.method, request.path, exc_info=exc)
    return respond(error)
