"""The Spyne types of the SOAP door: the parameter types every operation shares, and `Element`, the
result type whose value is the element `schemas/` writes (see the package docstring for why)."""
from __future__ import annotations

from typing import Any

from lxml import etree
from spyne import AnyXml, Boolean, ByteArray, DateTime, Integer, Long, Unicode
from spyne.model import ModelBase

from engine.model.states import AUTO_DISPOSE_NAMES, DATA_LEVELS, LOG_LEVELS, NODE_SELECTIONS
from schemas.namespaces import DATASTORE, PROCESS, QUERY, qname
from schemas.shape_xsd import XS
from schemas.signatures import Parameter

XSI = "http://www.w3.org/2001/XMLSchema-instance"
XSI_TYPE, XSI_NIL = f"{{{XSI}}}type", f"{{{XSI}}}nil"
# Where the built-in simple types live: XML Schema (and the drafts SOAP::Lite may still write), and the
# SOAP encoding's copies of them.
SIMPLE_TYPE_NAMESPACES = frozenset({XS, "http://www.w3.org/2000/10/XMLSchema", "http://www.w3.org/1999/XMLSchema",
                                    "http://schemas.xmlsoap.org/soap/encoding/"})


def xsi_type(element: etree._Element) -> tuple[str | None, str] | None:
    """The (namespace, local name) an element's `xsi:type` names; None without one. The namespace is None
    when the prefix is not declared."""
    named = element.get(XSI_TYPE)
    if named is None:
        return None
    prefix, _, local = named.strip().rpartition(":")
    return element.nsmap.get(prefix or None), local


# The prefixes the WSDL writes its namespaces with.
PREFIXES = {PROCESS: "tns", DATASTORE: "dat", QUERY: "q", XS: "xs"}


def prefixed(clark: str) -> str:
    """A Clark name as the WSDL writes it (`dat:DataStore`), for messages."""
    name = etree.QName(clark)
    return f"{PREFIXES.get(name.namespace, name.namespace)}:{name.localname}"


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


TotalRelation = choice("TotalCountRelation", ("gte",))  # findExecutions' totalCount is a lower bound
AutoDisposeMode = choice("AutoDispose", AUTO_DISPOSE_NAMES)  # the snapshot's type: one enum class in stubs
LogLevel = choice("logLevel", LOG_LEVELS)
DataLevel = choice("dataLevel", DATA_LEVELS)
NodeSelection = choice("nodeSelection", NODE_SELECTIONS)
_ENUMERATIONS = {"AutoDispose": AutoDisposeMode, "logLevel": LogLevel, "dataLevel": DataLevel,
                 "nodeSelection": NodeSelection}


class Document(AnyXml):
    """A data store or query parameter. `soap.protocol` hands the parameter's own element to the
    service, which reads every shape CONTRACT §11 allows: the document's element, its children directly
    under the parameter (what stubs generated from the WSDL send), or the document as text (XML or JSON).
    The WSDL types the parameter as `declared` (`soap.wsdl`); Spyne itself knows it as xs:anyType."""

    __type_name__ = "anyType"
    declared = ""  # the WSDL type's Clark name
    root = ""      # the document element's Clark name


class StoreDocument(Document):
    declared, root = qname(DATASTORE, "DataStore"), qname(DATASTORE, "dataStore")


class QueryDocument(Document):
    """A query over processes (CONTRACT §5); its subclasses select other records with fields of their
    own (§12), each typed in the WSDL as its own tree (`q:HistoryQuery`, …) so stubs get the right fields."""

    declared, root = qname(QUERY, "Query"), qname(QUERY, "query")
    records = "processes"  # the key of its language in schemas.query.LANGUAGES


class HistoryQueryDocument(QueryDocument):
    declared, records = qname(QUERY, "HistoryQuery"), "history"


class OperationLogQueryDocument(QueryDocument):
    declared, records = qname(QUERY, "OperationLogQuery"), "operations"


OptionalStore = StoreDocument(min_occurs=0)
RequiredStore = StoreDocument(min_occurs=1, nillable=False)
RequiredQuery = QueryDocument(min_occurs=1, nillable=False)
OptionalQuery = QueryDocument(min_occurs=0)
_DOCUMENTS = {("datastore", True): RequiredStore, ("datastore", False): OptionalStore,
              ("query", True): RequiredQuery, ("query", False): OptionalQuery}
# Queries over other records, by (records, required): made once, as the declarations are compared.
_QUERIES = {(kind.records, required): kind(min_occurs=1, nillable=False) if required else kind(min_occurs=0)
            for kind in (HistoryQueryDocument, OperationLogQueryDocument) for required in (True, False)}


# -- results ------------------------------------------------------------------------------------------
class Element(AnyXml):
    """A result element built by `schemas/` for this response only, written into the response wrapper
    as it is (`soap.protocol` registers the writer): Spyne's AnyXml would wrap it in one more element
    and move a shared element out of its tree, so each call hands over a fresh one. The WSDL types the
    member as a reference to the element's declaration (`soap.wsdl`)."""

    __type_name__ = "anyType"


Result = Element(min_occurs=0)


def wire_type(parameter: Parameter) -> Any:
    """The Spyne type of an operation's declared parameter (`schemas.signatures`): what the WSDL says of it."""
    kind = parameter.kind
    if kind == "string":
        if parameter.many:
            return Texts
        return RequiredText if parameter.required else _ENUMERATIONS[parameter.enum] if parameter.enum else Text
    if kind == "boolean":
        return RequiredFlag if parameter.required else FlagTrue if parameter.default is True else Flag
    if kind == "timeout":
        return Timeout if parameter.default == -1 else Number  # a timeout of its own (getWatcher's): a number
    if kind == "query" and parameter.records != QueryDocument.records:
        return _QUERIES[parameter.records, parameter.required]
    if kind in ("datastore", "query"):
        return _DOCUMENTS[kind, parameter.required]
    return {"integer": Number, "timestamp": Timestamp, "ipd": Stream}[kind]


def out(name: str, kind: Any = Result) -> dict[str, Any]:
    """`@rpc` keywords naming the single response member deliberately (not Spyne's `…Result`)."""
    return {"_returns": kind, "_out_variable_name": name}
