"""What happens to a SOAP request before Spyne sees it, so that it happens exactly once and right:
the WSDL built at start-up is served as it is (never from a request's Host header); the body is read
up to `server.max_request_bytes` (Flask's limit does not cover an app mounted beside it); the XML goes
through the one hardened parser, so a DOCTYPE is a Client fault and not Spyne's HTML 500; and the
caller is authenticated (Basic first, nothing read for a stranger; else the envelope's UsernameToken)."""
from __future__ import annotations

import io
import logging
from typing import Any, Callable, Iterable, Iterator

from lxml import etree

from engine.security.authentication import Authenticator
from engine.errors import EngineError, InternalError, InvalidParameter, PayloadTooLarge, Unauthenticated
from engine.security.authorization import Principal
from schemas.results import carryable, error_xml
from schemas.shapes import sized, splice

from .answers import DEFERRED
from .auth import basic_principal, token_principal
from .envelope import SOAP_ENV, read_envelope
from .faults import type_detail

CHALLENGE = 'Basic realm="process-engine"'
XML_TYPE = "text/xml; charset=utf-8"
log = logging.getLogger("process_engine.soap")
WsgiApp = Callable[[dict, Callable[..., Any]], Iterable[bytes]]


class SoapFront:
    """The WSGI application mounted at `{root}/soap`, in front of Spyne's."""

    def __init__(self, spyne: WsgiApp, authenticator: Authenticator, wsdl: bytes, limit: int) -> None:
        self.spyne, self.authenticator, self.wsdl, self.limit = spyne, authenticator, wsdl, limit

    def __call__(self, environ: dict, start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            endpoint = environ.get("PATH_INFO", "") in ("", "/")
            if endpoint and environ.get("REQUEST_METHOD") == "GET" and \
                    environ.get("QUERY_STRING", "").lower() in ("wsdl", "wsdl="):
                start_response("200 OK", [("Content-Type", XML_TYPE), ("Content-Length", str(len(self.wsdl)))])
                return [self.wsdl]  # the one thing a stranger is told (CONTRACT §8)
            principal = basic_principal(self.authenticator, environ.get("HTTP_AUTHORIZATION", ""))
            if principal is None and not (endpoint and environ.get("REQUEST_METHOD") == "POST"):
                raise Unauthenticated("this service needs HTTP Basic credentials or a WS-Security UsernameToken")
            if not endpoint:
                raise InvalidParameter("path", f"no SOAP endpoint at {environ.get('PATH_INFO')}")
            if environ.get("REQUEST_METHOD") != "POST":
                raise InvalidParameter("method", "a SOAP request is a POST (the WSDL is at ?wsdl)")
            body = self._body(environ)
            if principal is not None:
                envelope, stores = read_envelope(body)
            else:
                envelope, stores, principal = self._stranger_envelope(body)
            # Spyne reads this very tree (EngineSoap.create_in_document) instead of parsing the body again.
            environ["pe.envelope"], environ["pe.stores"], environ["pe.principal"] = envelope, stores, principal
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(), "0"  # (read: the tree above is all)
            if not environ.get("CONTENT_TYPE"):  # the envelope says what it is; Spyne would answer 405
                environ["CONTENT_TYPE"] = XML_TYPE
            del envelope, body
            deferred: list = []
            started: list = []  # Spyne's status and headers, held while markup deferred into its answer waits
            token = DEFERRED.set(deferred)
            try:
                answer = self.spyne(environ, _held(start_response, deferred, started))
            finally:
                DEFERRED.reset(token)
            return _spliced(answer, deferred, start_response, started) if deferred else answer
        except EngineError as error:
            return fault_response(start_response, error)
        except Exception as exc:  # a bug of ours: a Server fault with an incident ID, never a traceback
            internal = InternalError()
            log.error("incident %s: SOAP request failed", internal.incident, exc_info=exc)
            return fault_response(start_response, internal)

    def _stranger_envelope(self, body: bytes) -> tuple[etree._Element, dict, Principal]:
        """The envelope of a caller without Basic credentials and the principal of its UsernameToken,
        checked before any data store of theirs is read; one that is no SOAP envelope is told only 401."""
        known: list[Principal] = []
        try:
            envelope, stores = read_envelope(body, lambda root: known.append(token_principal(self.authenticator, root)))
        except InvalidParameter:
            raise Unauthenticated("this service needs HTTP Basic credentials or a WS-Security UsernameToken") from None
        return envelope, stores, known[0]

    def _body(self, environ: dict) -> bytes:
        length = environ.get("CONTENT_LENGTH") or ""
        if length.strip():
            try:
                declared = int(length)
            except ValueError:
                raise InvalidParameter("Content-Length", f"{length!r} is not a length") from None
            if declared > self.limit:
                raise PayloadTooLarge("the request body is larger than this service accepts")
            return environ["wsgi.input"].read(declared)
        data = environ["wsgi.input"].read(self.limit + 1)  # chunked: read one byte past the limit
        if len(data) > self.limit:
            raise PayloadTooLarge("the request body is larger than this service accepts")
        return data


def _held(start_response: Callable[..., Any], deferred: list, started: list) -> Callable[..., Any]:
    """Spyne's start_response; once markup was deferred into the answer (answers.DEFERRED), the status
    and headers are held for `_spliced`, which knows the answer's length only as it writes it."""
    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        if deferred:
            started[:] = [status, [(n, v) for n, v in headers if n.lower() != "content-length"], exc_info]
            return lambda data: None  # (Spyne writes nothing through it)
        return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)
    return start


def _spliced(answer: Iterable[bytes], deferred: list, start_response: Callable[..., Any],
             started: list) -> Iterator[bytes]:
    """Spyne's answer with the markup deferred into it in place: with its length, or, a MB or longer,
    as it is written (schemas.shapes.sized)."""
    try:
        body = b"".join(answer)  # (the envelope around the pipelines: small)
    finally:
        close = getattr(answer, "close", None)
        if close is not None:
            close()
    status, headers, exc_info = started
    held, streamed = sized(splice(body, deferred))
    if streamed is None:
        start_response(status, [*headers, ("Content-Length", str(sum(map(len, held))))], exc_info)
        yield from held
        return
    start_response(status, headers, exc_info)
    yield from streamed


def fault_envelope(error: EngineError) -> bytes:
    code = "Client" if error.client_fault else "Server"
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap11env": SOAP_ENV})
    fault = etree.SubElement(etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body"), f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(fault, "faultcode").text = f"soap11env:{code}"
    etree.SubElement(fault, "faultstring").text = carryable(error.message)
    etree.SubElement(fault, "detail").append(error_xml(error))
    type_detail(fault)
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def fault_response(start_response: Callable[..., Any], error: EngineError) -> list[bytes]:
    body = fault_envelope(error)
    status = ("401 Unauthorized" if isinstance(error, Unauthenticated) else
              "413 Request Entity Too Large" if isinstance(error, PayloadTooLarge) else "500 Internal Server Error")
    headers = [("Content-Type", XML_TYPE), ("Content-Length", str(len(body)))]
    if isinstance(error, Unauthenticated):
        headers.append(("WWW-Authenticate", CHALLENGE))
    start_response(status, headers)
    return [body]
