"""The Spyne types of the SOAP door: the parameter types every operation shares, and `Element`, the
result type whose value is the element `schemas/` writes (see the package docstring for why)."""
from __future__ import annotations

from typing import Any

from spyne import AnyXml, Boolean, ByteArray, DateTime, Integer, Long, Unicode
from spyne.model import ModelBase

from engine.states import AUTO_DISPOSE_NAMES, DATA_LEVELS, LOG_LEVELS, NODE_SELECTIONS
from schemas.namespaces import PROCESS
from schemas.shape_xsd import XS

# -- parameters ---------------------------------------------------------------------------------------
Text = Unicode(min_occurs=0)
RequiredText = Unicode(min_occurs=1, nillable=False)
Texts = Unicode(min_occurs=0, max_occurs="unbounded")       # repeated; each item may also be comma-separated
Flag = Boolean(min_occurs=0)
FlagTrue = Boolean(min_occurs=0, default=True)
RequiredFlag = Boolean(min_occurs=1, nillable=False)
Number = Long(min_occurs=0)
Timeout = Long(min_occurs=0, default=-1)                     # milliseconds; -1 blocks (CONTRACT §2)
Timestamp = DateTime(min_occurs=0)
Stream = ByteArray(min_occurs=0)                             # an IPD, base64Binary
Count = Integer


class _Enumerated(Unicode):
    """A string of fixed values. The WSDL enumerates them, so stubs get an enum type; Spyne does not
    refuse another value itself, because the operation does, with a fault that names the parameter
    and its values (Spyne's own would name neither)."""

    __namespace__ = XS  # what the enumerations restrict is xs:string
    __type_name__ = "string"

    @staticmethod
    def validate_native(cls: Any, value: Any) -> bool:
        return ModelBase.validate_native(cls, value)


def choice(type_name: str, values: tuple[str, ...]) -> Any:
    return _Enumerated(min_occurs=0, values=list(values), type_name=type_name, __namespace__=PROCESS)


AutoDisposeMode = choice("autoDisposeMode", AUTO_DISPOSE_NAMES)
LogLevel = choice("logLevel", LOG_LEVELS)
DataLevel = choice("dataLevel", DATA_LEVELS)
NodeSelection = choice("nodeSelection", NODE_SELECTIONS)


class Document(AnyXml):
    """A data store or query parameter: its document's element, or the document as text (XML or JSON).
    `soap.protocol` hands the parameter's own element to the service, which reads either."""

    __type_name__ = "anyType"


OptionalDocument = Document(min_occurs=0)
RequiredDocument = Document(min_occurs=1, nillable=False)


# -- results ------------------------------------------------------------------------------------------
class Element(AnyXml):
    """A result element built by `schemas/` for this response only, written into the response wrapper
    as it is (`soap.protocol` registers the writer): Spyne's AnyXml would wrap it in one more element
    and move a shared element out of its tree, so each call hands over a fresh one. The WSDL types the
    member as a reference to the element's declaration (`soap.wsdl`)."""

    __type_name__ = "anyType"


Result = Element(min_occurs=0)


def out(name: str, kind: Any = Result) -> dict[str, Any]:
    """`@rpc` keywords naming the single response member deliberately (not Spyne's `…Result`)."""
    return {"_returns": kind, "_out_variable_name": name}
