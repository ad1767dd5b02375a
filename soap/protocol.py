"""SOAP 1.1 as this service speaks it: results written in place, and every fault in one form — a
`Client` or `Server` code, the message as faultstring and `<error type message …/>` as its detail,
whether the fault came from the engine, from Spyne's own checks of the request, or from a bug."""
from __future__ import annotations

import logging
from typing import Any

from lxml import etree
from spyne import Boolean, DateTime, Fault
from spyne.model.complex import ComplexModelBase
from spyne.protocol.soap import Soap11
from spyne.protocol.xml import XmlDocument

from engine.support.clock import parse_timestamp
from engine.errors import EngineError, InternalError, InvalidParameter, NotFound
from schemas.results import error_xml

from .faults import to_fault, type_detail
from .types import SIMPLE_TYPE_NAMESPACES, XSI_NIL, XSI_TYPE, Document, Element, prefixed, xsi_type

log = logging.getLogger("process_engine.soap")


class EngineSoap(Soap11):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, parse_xsi_type=False, **kwargs)  # xsi:type is read in from_element
        self.serialization_handlers[Element] = self.element_to_parent
        self.deserialization_handlers[Document] = lambda ctx, cls, element: element
        self._from_unicode_handlers[Boolean] = _boolean
        self._from_unicode_handlers[DateTime] = lambda cls, text: parse_timestamp(text)  # as REST reads it

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        """The envelope `soap.http` already parsed with the hardened parser (and checked: a POST with
        an XML body), cleaned as Spyne's own parser would have left it — not a second parse."""
        envelope = getattr(ctx.transport, "req_env", {}).get("pe.envelope")
        if envelope is None:
            return super().create_in_document(ctx, charset)
        etree.strip_tags(envelope, etree.Comment, etree.ProcessingInstruction)
        ctx.in_document = (envelope, {})  # no DTD, so no ID attributes to index
        return None

    def decompose_incoming_envelope(self, ctx: Any, message: str = XmlDocument.REQUEST) -> None:
        """Spyne's, except that an envelope without an operation in its Body is a Client fault
        (Spyne's failed on it with a Server one), and that Header and Body are found with `find`:
        Spyne's XPath lookups let go of the GIL twice each, and on a busy worker each is a thread switch."""
        envelope, ids = ctx.in_document
        if ids:  # a document Spyne parsed itself, with ID references to resolve: its own way
            return super().decompose_incoming_envelope(ctx, message)
        soap = self.ns_soap_env
        header, body = envelope.find(f"{{{soap}}}Header"), envelope.find(f"{{{soap}}}Body")
        if body is None or len(body) == 0:
            raise Fault("Client.SoapError", "the envelope's Body holds no operation element")
        ctx.in_document, ctx.in_body_doc = envelope, body[0]
        if ctx.in_body_doc.tag == f"{{{soap}}}Fault":
            return None
        ctx.in_header_doc = header.getchildren() if header is not None else None
        ctx.method_request_string = ctx.in_body_doc.tag
        self.validate_body(ctx, message)
        return None

    def from_element(self, ctx: Any, cls: Any, element: etree._Element) -> Any:
        """Every parameter (and request wrapper) as CONTRACT §11 reads it, whatever toolkit wrote it:
        nil is absent, and a nil or empty wrapper a call with no parameters; an `xsi:type` is checked
        here, once, and then the declared type reads the value (SOAP::Lite types every value by its
        looks: `xsd:int` for a long, `xsd:string` for an enumeration)."""
        if element.get(XSI_NIL, "").strip() in ("true", "1"):
            return cls.get_deserialization_instance(ctx) if element is ctx.in_body_doc else None
        if XSI_TYPE in element.attrib:
            _check_xsi_type(cls, element)
        if element is not ctx.in_body_doc:
            return super().from_element(ctx, cls, element)
        try:
            return super().from_element(ctx, cls, element)
        except Fault as fault:
            raise _frequency_fault(cls, element) or fault from None

    def base_from_element(self, ctx: Any, cls: Any, element: etree._Element) -> Any:
        """A typed parameter, or a Client fault that names it and says what it is not."""
        try:
            return super().base_from_element(ctx, cls, element)
        except Exception:
            raise _not_a(cls, element) from None

    def unicode_from_element(self, ctx: Any, cls: Any, element: etree._Element) -> str:
        """Text as it came: an empty element is the empty string (an attribute's value may be empty), and
        the operation judges it, naming the parameter. Spyne's would fault on it without a name."""
        return element.text or ""

    def byte_array_from_element(self, ctx: Any, cls: Any, element: etree._Element) -> Any:
        try:
            return super().byte_array_from_element(ctx, cls, element)
        except Exception:
            raise _not_a(cls, element) from None

    def element_to_parent(self, ctx: Any, cls: Any, inst: etree._Element, parent: etree._Element, ns: str,
                          name: str, **_: Any) -> None:
        parent.append(inst)

    def fault_to_parent(self, ctx: Any, cls: Any, inst: Any, parent: etree._Element, ns: str, *args: Any,
                        **kwargs: Any) -> Any:
        normalise(inst)
        written = super().fault_to_parent(ctx, cls, inst, parent, ns, *args, **kwargs)
        type_detail(parent[-1])
        return written

    schema_validation_error_to_parent = fault_to_parent


def _boolean(cls: Any, text: str) -> bool:
    """xs:boolean as CONTRACT §2 reads it (true/false in any case, 1/0); Spyne reads anything else as false."""
    lowered = (text or "").strip().lower()
    if lowered not in ("true", "1", "false", "0"):
        raise ValueError(text)
    return lowered in ("true", "1")


def _check_xsi_type(cls: Any, element: etree._Element) -> None:
    """An `xsi:type` names the parameter's own type or any built-in simple type (the declared type then
    reads the text); a data store or query parameter takes its WSDL type, or a simple type for text."""
    named, (namespace, local) = element.get(XSI_TYPE), xsi_type(element)
    parameter = etree.QName(element).localname
    if namespace is None:
        raise to_fault(InvalidParameter(parameter, f"xsi:type {named!r} uses a prefix that is not declared"))
    given, simple = f"{{{namespace}}}{local}", namespace in SIMPLE_TYPE_NAMESPACES
    if issubclass(cls, Document):
        if given == cls.declared or simple:
            return
    elif given == _own_type(cls) or (simple and local != "anyType" and not issubclass(cls, ComplexModelBase)):
        return
    raise to_fault(InvalidParameter(parameter, f"xsi:type {named!r} does not fit: the WSDL declares "
                                               f"{_declared(cls)}"))


def _own_type(cls: Any) -> str:
    return f"{{{cls.get_namespace()}}}{cls.get_type_name()}"


def _declared(cls: Any) -> str:
    if issubclass(cls, Document):
        return f"{prefixed(cls.declared)} (or the document as text)"
    return prefixed(_own_type(cls))


def _frequency_fault(cls: Any, wrapper: etree._Element) -> Fault | None:
    """Spyne's soft validation says only "'x' member does not respect frequency constraints": say which
    parameter, how often it came and how often the WSDL allows it."""
    for name, member in cls.get_flat_type_info(cls).items():
        attrs = member.Attributes
        seen = sum(1 for child in wrapper if isinstance(child.tag, str) and etree.QName(child).localname == name)
        if seen < attrs.min_occurs:
            return to_fault(InvalidParameter(name, "is required"))
        if seen > attrs.max_occurs:
            return to_fault(InvalidParameter(name, f"is given {seen} times; the WSDL allows it once"))
    return None


def _not_a(cls: Any, element: etree._Element) -> Fault:
    kind = {"boolean": "a boolean (true, false, 1 or 0)", "long": "an integer in range",
            "integer": "an integer", "dateTime": "an ISO 8601 timestamp",
            "base64Binary": "base64"}.get(cls.get_type_name(), f"a valid {cls.get_type_name()}")
    return to_fault(InvalidParameter(etree.QName(element).localname, f"{element.text or ''!r} is not {kind}"))


def normalise(fault: Any) -> None:
    """A fault of Spyne's own (no detail yet) in the contract's form; a Server fault that did not come
    from the engine hides its cause behind an incident ID that is in the log."""
    if fault.detail is not None and not isinstance(fault.detail, dict):
        return
    code = str(fault.faultcode)
    if code.split(".")[0] == "Client":
        error = EngineError(str(fault.faultstring or "the request is not acceptable"))
        error.type = (NotFound if "ResourceNotFound" in code else InvalidParameter).type
        fault.faultcode, fault.detail = "Client", error_xml(error)
        return
    internal = InternalError()
    log.error("incident %s: SOAP fault %s: %s", internal.incident, code, fault.faultstring)
    fault.faultcode, fault.faultstring, fault.detail = "Server", internal.message, error_xml(internal)
