"""Requests a browser sends from another site are refused before either door sees them (issue 18).

A browser sends an operator's Basic credentials with any request to this service, whichever page
asked, so a page elsewhere could post a form to `/rest/run` or `/soap` under the operator's name.
Browsers say where a request comes from: `Sec-Fetch-Site` (all current ones), else `Origin`. A
request from another site to either door is refused with 403 and changes nothing, as Go's
`http.CrossOriginProtection` does; a request with neither header comes from no browser (stub clients,
curl) and passes. A link followed from elsewhere may still open the console, the documentation and
the OpenAPI document: GETs that change nothing.
"""
from __future__ import annotations

import json
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

WsgiApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
FROM_HERE = frozenset({"same-origin", "none"})  # `none`: typed in the address bar, a bookmark


class RefusesCrossSite:
    """Refuses what another site's page sent to the doors under `guarded` (path prefixes)."""

    def __init__(self, app: WsgiApp, guarded: tuple[str, ...], open_reads: tuple[str, ...]) -> None:
        self.app, self.guarded, self.open_reads = app, guarded, open_reads

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self._cross_site(environ):
            body = json.dumps({"type": "CrossSiteRequest", "message": "refused: this request came from a page of "
                               "another site; call the service from its own console or from a client"}).encode()
            start_response("403 FORBIDDEN", [("Content-Type", "application/json"),
                                             ("Content-Length", str(len(body))), ("Vary", "Origin, Sec-Fetch-Site")])
            return [body]
        return self.app(environ, start_response)

    def _cross_site(self, environ: dict) -> bool:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if not path.startswith(self.guarded):
            return False
        if method in SAFE and path.startswith(self.open_reads):
            return False
        site = environ.get("HTTP_SEC_FETCH_SITE")
        if site is not None:
            return site not in FROM_HERE
        origin = environ.get("HTTP_ORIGIN")
        if origin is None or method in SAFE:  # an old browser sends Origin on unsafe requests only
            return False
        return urlsplit(origin).netloc != environ.get("HTTP_HOST", "")
