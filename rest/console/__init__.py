"""The operator console, at `{root}/console` (issue 18): a page and its scripts, served with the package.

It is a client of the REST door: every action it takes is a REST call its user could make themselves,
with the user's own Basic credentials, which the browser asks for at the first call the door refuses.
Three things it reads here, beyond the spec's operations: who its user is (`api/me`), so that it offers
only the actions the user may take (the door refuses the others anyway); the outline of a definition
its diagrams draw (`api/outline`, with the privileges `validate` and `read` need); and how long ago each
node last beat (`api/heartbeats`, an admin's). Its pages
load nothing from anywhere but this service, may not be framed, and cross-site requests to the doors are
refused (`config.origins`).
"""
from __future__ import annotations

import re
from dataclasses import asdict
from importlib import resources
from pathlib import Path

from flask import Flask, Response, current_app, jsonify, redirect, request, send_from_directory

from engine import operations as ops
from engine.errors import InvalidParameter, NotFound
from engine.model.results import Outline, OutlineElement

from ..auth import current_principal

FILE = re.compile(r"[a-z][a-z-]*\.(html|js|css)")  # what the console ships: pages, modules, styles
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
          "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
HEADERS = {"Content-Security-Policy": POLICY, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer"}


def register(app: Flask, root: str) -> None:
    own = Path(str(resources.files("rest").joinpath("console", "static")))
    entry = f"{root}/console/"

    def console_entry() -> Response:
        return redirect(entry, code=302)

    for path in sorted({"/", root or "/", f"{root}/", f"{root}/console"}):
        app.add_url_rule(path, f"console_entry{path}", console_entry, methods=["GET"])

    @app.get(entry, defaults={"name": "index.html"})
    @app.get(f"{entry}<name>")
    def console_file(name: str) -> Response:
        if not FILE.fullmatch(name) or not (own / name).is_file():
            raise NotFound("console file", name)
        response = send_from_directory(own, name, max_age=0 if name == "index.html" else 300)
        response.headers.update(HEADERS)
        return response

    @app.get(f"{entry}api/me")
    def console_me() -> Response:
        """Who the caller is: the console offers only what they may do."""
        principal = current_principal()
        return _private(jsonify(name=principal.name, roles=sorted(principal.roles), admin=principal.is_admin))

    @app.get(f"{entry}api/outline")
    def console_outline() -> Response:
        """A definition's element tree for its diagram: of `processUri`, or of the definition the
        instance `executionId` runs, with its breakpoints, current element and trail."""
        engine, principal = current_app.extensions["process_engine"], current_principal()
        execution_id, process_uri = request.args.get("executionId"), request.args.get("processUri")
        if bool(execution_id) == bool(process_uri):
            raise InvalidParameter("executionId", "give either executionId or processUri")
        outline = (ops.outline_instance(engine, principal, execution_id) if execution_id
                   else ops.outline_definition(engine, principal, process_uri or ""))
        return _private(jsonify(_outline_json(outline)))


    @app.get(f"{entry}api/heartbeats")
    def console_heartbeats() -> Response:
        """How long ago each node last beat, in ms, by node ID (an admin's, as nodeStates is)."""
        return _private(jsonify(ops.get_heartbeat_ages(current_app.extensions["process_engine"], current_principal())))


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _outline_json(outline: Outline) -> dict:
    return {**asdict(outline), "body": [_element_json(e) for e in outline.body],
            "children": [{"executionId": i, "processUri": uri, "state": state} for i, uri, state in outline.children],
            "watchers": [{"id": i, "groupId": group, "owner": owner} for i, group, owner in outline.watchers]}


def _element_json(element: OutlineElement) -> dict:
    return {"id": element.id, "fullId": element.full_id, "kind": element.kind, "line": element.line,
            "label": element.label,
            "blocks": [{"name": name, "elements": [_element_json(e) for e in block]} for name, block in element.blocks]}
