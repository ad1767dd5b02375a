"""The API documentation in the browser, at `{root}/rest/docs`: Swagger UI on the served OpenAPI
document. Its assets come installed with the package (`swagger-ui-bundle`, and the page in
rest/static/docs): nothing is fetched from a CDN, and the page's Content-Security-Policy lets it load
nothing from anywhere but this service. Like the document, it answers without credentials; trying an
operation out sends the credentials the page is given."""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from flask import Flask, Response, redirect, send_from_directory
from swagger_ui_bundle import swagger_ui_path

from engine.errors import NotFound

ASSETS = ("swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png",
          "favicon-16x16.png")
PAGE = ("index.html", "start.js")
# Swagger UI sets styles inline and draws icons from data: URLs; scripts only from here.
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
          "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def register(app: Flask, root: str) -> None:
    own = Path(str(resources.files("rest").joinpath("static", "docs")))

    @app.get(f"{root}/rest/docs")
    def docs_entry() -> Response:
        return redirect(f"{root}/rest/docs/", code=308)

    @app.get(f"{root}/rest/docs/", defaults={"name": "index.html"})
    @app.get(f"{root}/rest/docs/<name>")
    def docs_file(name: str) -> Response:
        if name in PAGE:
            response = send_from_directory(own, name, max_age=300)
        elif name in ASSETS:
            response = send_from_directory(swagger_ui_path, name, max_age=86400)
        else:
            raise NotFound("documentation file", name)
        response.headers["Content-Security-Policy"] = POLICY
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response
