"""The SOAP door: Spyne services that translate SOAP 1.1 (document/literal wrapped) into calls of
`engine.operations` — the same calls, with the same arguments, as the REST door makes.

`create_soap_app(engine, settings)` builds the WSGI application mounted at `{root}/soap`.

Decisions a reader must know:
- Results are the very elements `schemas/` writes for REST's XML answers (CONTRACT §2), placed in the
  operation's response wrapper as they are (`soap.types.Element`), so the two doors cannot drift apart.
  They are typed all the same: the WSDL refers each result member to its element declaration —
  `schemas/xsd/snapshot.xsd` and `datastore.xsd` inline, plus declarations written from the result
  shapes (`schemas/shape_xsd.py`) — so zeep, suds or JAXB stubs read fields, not raw XML (`soap.wsdl`).
  Spyne models for them would have repeated every shape a second time. Scalars (version, URLs, counts,
  deleteWatcher's boolean) are Spyne primitives. `findExecutions` adds `totalCount` (REST's
  X-Total-Count).
- Parameters are typed (stubs get booleans, numbers, repeated lists, enums). Data store and query
  parameters are typed in the WSDL as the documents' types written for stub generators
  (`schemas/xsd/*-wsdl.xsd`), so stubs get classes; they are read in every shape CONTRACT §11 lists
  (`soap.params`), and `xsi:type`, nil and empty wrappers are read in one place (`soap.protocol`).
- Spyne validates softly (`validator='soft'`): the lxml validator shares one error log across
  threads and turns a DOCTYPE into an HTML 500. The hardened parser in `soap.http` sees every body
  first, so a DOCTYPE or broken XML is a Client fault, and bodies over `server.max_request_bytes` are
  a 413 before they are read in full.
- Operations return elements, lists or scalars, never generators: a generator failing half-way would
  answer HTTP 200 with an empty envelope.
- Spyne's `gc.collect()` after a request, at most once a second (`spyne.const.MIN_GC_INTERVAL`), is
  turned off: it hands back the files of MTOM uploads, which no operation takes, and a full
  collection stops every thread of the worker, REST requests included, for tens of milliseconds.
- The WSDL is built once, at start-up, from `server.public_url` (`soap.wsdl`); `wsdl/` holds the
  published copy and a test compares the two.
"""
from __future__ import annotations

import logging
import math
from typing import Any

import spyne.const
from spyne.server.wsgi import WsgiApplication

from engine.security.authentication import Authenticator

from .http import SoapFront
from .wsdl import build_application, build_wsdl, endpoint_url


def create_soap_app(engine: Any, settings: Any) -> SoapFront:
    # Spyne logs every Client fault with a traceback: the caller's mistakes are not the log's business.
    logging.getLogger("spyne.application.client").setLevel(logging.CRITICAL)
    spyne.const.MIN_GC_INTERVAL = math.inf
    application = build_application()
    application.engine = engine
    limit = settings.server.max_request_bytes
    served = WsgiApplication(application, max_content_length=limit)
    return SoapFront(served, Authenticator(settings.auth.users), build_wsdl(settings, application), limit)


__all__ = ["create_soap_app", "build_wsdl", "endpoint_url"]
