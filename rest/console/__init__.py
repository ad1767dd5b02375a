"""The operator console, at `{root}/console` (issue 18): a page and its scripts, served with the package.

It is a client of the REST door: every action it takes is a REST call its user could make themselves,
with the user's own Basic credentials, which the browser asks for at the first call the door refuses.
The one thing it reads here is who its user is (`me`), so that it offers only the actions the user may
take; the door refuses the others anyway. Its pages load nothing from anywhere but this service, may
not be framed, and cross-site requests to the doors are refused (`config.origins`).
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from flask import Flask, Response, jsonify, redirect, send_from_directory

from engine.errors import NotFound

from ..auth import current_principal

FILES = ("index.html", "console.css", "console.js", "views.js", "api.js", "query.js")
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
        if name not in FILES:
            raise NotFound("console file", name)
        response = send_from_directory(own, name, max_age=0 if name == "index.html" else 300)
        response.headers.update(HEADERS)
        return response

    @app.get(f"{entry}api/me")
    def console_me() -> Response:
        """Who the caller is: the console offers only what they may do."""
        principal = current_principal()
        response = jsonify(name=principal.name, roles=sorted(principal.roles), admin=principal.is_admin)
        response.headers["Cache-Control"] = "no-store"
        return response
