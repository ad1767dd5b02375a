"""The REST door: Flask blueprints that translate HTTP into calls of `engine.operations`.

`create_rest_app(engine, settings)` builds the Flask application serving every operation under
`{root}/rest`, its OpenAPI document at `{root}/rest/openapi.json` (in the browser at `{root}/rest/docs`),
and the error mapping of CONTRACT §6. It holds no engine logic: each endpoint parses, makes one facade call, renders.
"""
from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from flask import Flask, jsonify

from engine.security.authentication import Authenticator

from . import administration, apidocs, console, errors, history, lifecycle, openapi, state_queries, watchers


def create_rest_app(engine: Any, settings: Any) -> Flask:
    root = settings.server.context_path.rstrip("/")
    app = Flask("process_engine.rest")
    app.config["MAX_CONTENT_LENGTH"] = settings.server.max_request_bytes
    app.extensions["process_engine"] = engine
    app.extensions["authenticator"] = Authenticator(settings.auth.users)
    for blueprint in (lifecycle.bp, state_queries.bp, watchers.bp, administration.bp, history.bp):
        app.register_blueprint(blueprint, url_prefix=f"{root}/rest")
    errors.register(app)
    document: dict[str, Any] = {}

    @app.get(f"{root}/rest/openapi.json")
    def openapi_document() -> Any:
        if not document:
            document.update(openapi.build(_version(), f"{settings.server.base_url}{root}"))
        return jsonify(document)

    apidocs.register(app, root)
    console.register(app, root)

    return app


def _version() -> str:
    try:
        return version("process-engine")
    except PackageNotFoundError:
        return "0"
