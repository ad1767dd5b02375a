"""Engine errors to SOAP faults, mapped once (CONTRACT §6): the caller's mistakes are `soap:Client`
faults whose detail holds the same `<error>` as REST's body; anything else is `soap:Server` — an
unavailable engine by its type, a bug with a generic message and an incident ID that is in the log."""
from __future__ import annotations

import logging
from typing import Any

from lxml import etree
from spyne import Application, Fault

from engine.errors import EngineError, InternalError
from schemas.namespaces import PROCESS, qname
from schemas.results import error_xml

from .types import XSI_TYPE

ERROR_TAG = qname(PROCESS, "error")

log = logging.getLogger("process_engine.soap")


def to_fault(error: EngineError) -> Fault:
    code = "Client" if error.client_fault else "Server"
    return Fault(faultcode=code, faultstring=error.message, detail=error_xml(error))


def type_detail(fault: etree._Element) -> None:
    """Name the type of a written fault's `<error>` detail with `xsi:type`: PHP's SoapClient decodes a
    detail without the WSDL's fault declarations, and reads an element's attributes only when its
    xsi:type names the element's type. Done on the written envelope, where the prefix is final."""
    error = fault.find(f"detail/{ERROR_TAG}")
    if error is not None:
        error.set(XSI_TYPE, f"{error.prefix}:Error" if error.prefix else "Error")


def unexpected(exc: BaseException, operation: str) -> Fault:
    error = InternalError()
    log.error("incident %s: SOAP %s failed", error.incident, operation, exc_info=exc)
    return to_fault(error)


class EngineApplication(Application):
    """Spyne's application with the engine beside it and the one place exceptions become faults."""

    engine: Any = None

    def call_wrapper(self, ctx: Any) -> Any:
        try:
            return super().call_wrapper(ctx)
        except Fault:
            raise
        except EngineError as error:
            if type(error) is EngineError:  # the base class: a fault of the service, not the caller's
                raise unexpected(error, ctx.method_request_string) from None
            raise to_fault(error) from None
        except Exception as exc:
            raise unexpected(exc, ctx.method_request_string) from None
