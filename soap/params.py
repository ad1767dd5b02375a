"""Reading the parameters of a SOAP call the way REST reads its own (CONTRACT §2): lists repeated or
comma-separated, choices checked, text XML can carry, timeouts from -1 up; every refusal an
InvalidParameter naming the parameter. Also the caller and the engine of the call."""
from __future__ import annotations

import functools
from typing import Any, Callable, Iterable, Iterator

from lxml import etree
from spyne import rpc

from engine.support.clock import check_timeout
from engine.model.datastore import DataStore, check_xml_text
from engine.errors import InvalidDataStore, InvalidParameter, InvalidQuery
from engine.model.query import Query
from engine.security.authorization import Principal
from schemas import datastore, query as query_form
from schemas.namespaces import DATASTORE, qname
from schemas.signatures import Parameter, signature

from .types import (SIMPLE_TYPE_NAMESPACES, XSI, XSI_TYPE, Document, QueryDocument, StoreDocument, wire_type,
                    xsi_type)

_ENTRY = qname(DATASTORE, "entry")


def operation(**keywords: Any) -> Callable[[Callable[..., Any]], Any]:
    """Spyne's `@rpc` for the operation the function is named after, from its declaration
    (`schemas.signatures`): the parameters in the spec's order and wire names, each read as REST reads it;
    the function gets them parsed, by their snake_case names. `keywords` name the answer (`types.out`)."""
    def declare(function: Callable[..., Any]) -> Any:
        declared = signature(function.__name__)
        reading = tuple((p, p.keyword, p.kind == "datastore") for p in declared)  # worked out once, not per call

        @functools.wraps(function)
        def call(ctx: Any, *values: Any) -> Any:
            read = ctx.transport.req_env.get("pe.stores")  # (soap.envelope: stores read as it was parsed)
            return function(ctx, **{keyword: read[value] if store and read and value in read else parsed(p, value)
                                    for (p, keyword, store), value in zip(reading, values)})
        return rpc(*(wire_type(p) for p in declared), _args=tuple(p.name for p in declared), **keywords)(call)
    return declare


def parsed(parameter: Parameter, value: Any) -> Any:
    """What a stub sent for the parameter, checked as the declaration says; absent, its default."""
    name, kind = parameter.name, parameter.kind
    if kind == "string":
        if parameter.many:
            return texts(name, value, parameter.choices)
        checked = text(name, value, parameter.required, parameter.choices)
        return parameter.default if checked is None else checked
    if kind == "boolean":
        return required_flag(name, value) if parameter.required else flag(value, parameter.default)
    if kind == "integer":
        return number(name, value)
    if kind == "timeout":
        return read_timeout(name, value, parameter.default)
    if kind == "datastore":
        return data_store(name, value, parameter.required)
    if kind == "query":
        return read_query(name, value, parameter.required, parameter.records)
    return stream(value) if kind == "ipd" else value


def engine(ctx: Any) -> Any:
    return ctx.app.engine


def principal(ctx: Any) -> Principal:
    return ctx.transport.req_env["pe.principal"]


def text(name: str, value: str | None, required: bool = False, choices: tuple[str, ...] = ()) -> str | None:
    if value is None:
        if required:
            raise InvalidParameter(name, "is required")
        return None
    try:
        value = check_xml_text(value, "the value")
    except InvalidDataStore as exc:
        raise InvalidParameter(name, exc.message) from None
    if choices and value not in choices:
        raise InvalidParameter(name, f"{value!r} is not one of {', '.join(choices)}")
    return value


def texts(name: str, values: Iterable[str] | None, choices: tuple[str, ...] = ()) -> list[str]:
    """A list parameter: the element repeated, or one comma-separated value; blanks dropped."""
    parts = [part.strip() for value in values or () if value is not None for part in value.split(",")]
    return [text(name, part, choices=choices) for part in parts if part]


def flag(value: bool | None, default: bool | None = False) -> bool | None:
    return default if value is None else value


def required_flag(name: str, value: bool | None) -> bool:
    if value is None:
        raise InvalidParameter(name, "is required")
    return value


def stream(data: bytes | list | None) -> bytes | None:
    """A base64Binary parameter: Spyne hands over the decoded bytes (in one or more pieces)."""
    if data is None:
        return None
    return b"".join(data) if isinstance(data, (list, tuple)) else bytes(data)


def read_timeout(name: str, value: int | None, default: int = -1) -> int:
    return default if value is None else check_timeout(value, name)


def number(name: str, value: int | None) -> int | None:
    if value is not None and not -(2 ** 63) <= value < 2 ** 63:
        raise InvalidParameter(name, f"{value} is out of range")
    return value


def _document(name: str, element: etree._Element | None, kind: type[Document]) -> etree._Element | str | None:
    """The document a parameter holds, in whichever shape of CONTRACT §11 it came: the document's
    element, the element's children directly under the parameter (what stubs generated from the WSDL's
    type send; the parameter's attributes are the document's, a query's offset and limit; none at all is
    the empty document, as a stub's `new Query()` or `new DataStore()`), or text."""
    if element is None:
        return None
    children = [child for child in element if isinstance(child.tag, str)]
    if not children and element.text and element.text.strip():
        return element.text
    if len(children) == 1 and children[0].tag == kind.root:
        return children[0]
    namespace = etree.QName(kind.root).namespace
    for child in children:
        if child.tag == kind.root or etree.QName(child).namespace != namespace:
            raise InvalidParameter(name, f"holds {_named(child)}: expected one {_named(kind.root)} element, its "
                                         f"children in namespace {namespace}, or the document as text (XML or JSON)")
    # The parameter becomes the document's element where it stands, so that prefixes declared further up
    # still name namespaces in xsi:type values; moved under a new element, XML values would have their
    # prefixes rewritten by lxml to ones declared further up for the same namespace.
    for name in [name for name in element.attrib if name.startswith(f"{{{XSI}}}")]:
        del element.attrib[name]
    element.tag = kind.root
    return element


def _structure(document: etree._Element, kind: type[Document]) -> Iterator[etree._Element]:
    """The elements of a document that its WSDL type describes, where a stub may write an xsi:type
    (JAX-WS and .NET on a data store value, given a String for xs:anyType; gSOAP on any class of
    attributes only, such as a query's criterion). The content of an XML value is the caller's, and keeps
    its own. Walked by hand: an XPath here would be compiled and run for every request."""
    if kind is QueryDocument:
        yield from document.iter()
        return
    yield document
    for part in document:                      # entry | values | entries
        yield part
        for item in part:                      # entry/value | values/value | entries/entry
            yield item
            if part.tag != _ENTRY:
                yield from item                # values/value/content | entries/entry/value


def _untyped(document: etree._Element, kind: type[Document]) -> etree._Element:
    """The document without the `xsi:type`s stubs write on its structure, when they name a type of the
    document's own namespace (the WSDL's names for its parts) or a simple type (a value is its text):
    the XSD the service reads the document with knows neither."""
    namespace = etree.QName(kind.root).namespace
    for element in _structure(document, kind):
        _untype(element, namespace)
    return document


def _untype(element: etree._Element, namespace: str) -> None:
    if isinstance(element.tag, str) and XSI_TYPE in element.attrib:
        named = xsi_type(element)
        if named is not None and (named[0] == namespace or named[0] in SIMPLE_TYPE_NAMESPACES):
            del element.attrib[XSI_TYPE]


def tidy_store_item(item: etree._Element) -> None:
    """A data store's value, entry or frame as the usual reading has it, where it is read as the envelope
    is parsed (soap.envelope): without comments or instructions (Spyne's envelope has none,
    EngineSoap.create_in_document) and with its structure `_untyped` (the element and its children)."""
    etree.strip_tags(item, etree.Comment, etree.ProcessingInstruction)
    for element in (item, *item):
        _untype(element, DATASTORE)


def _named(element: etree._Element | str) -> str:
    name = etree.QName(element)
    return f"{name.localname} (namespace {name.namespace})" if name.namespace else f"{name.localname} (no namespace)"


def data_store(name: str, element: etree._Element | None, required: bool = False) -> DataStore | None:
    document = _document(name, element, StoreDocument)
    if isinstance(document, etree._Element):
        document = _untyped(document, StoreDocument)
    if document is None:
        if required:
            raise InvalidParameter(name, "is required")
        return None
    try:
        return datastore.load(document)
    except InvalidDataStore as exc:
        raise InvalidDataStore(f"{name}: {exc.message}") from None
    finally:
        if isinstance(element, etree._Element):  # (read: its tree, ten times a 10 MB store, goes now,
            element.clear()                        # not after the answer is built and sent; issue 15)


def read_query(name: str, element: etree._Element | None, required: bool = True,
               records: str = "processes") -> Query | None:
    """The query a parameter holds, naming the fields of the `records` it selects (schemas.query.LANGUAGES);
    None when it holds none and need not (CONTRACT §5: every process, every record)."""
    document = _document(name, element, QueryDocument)
    if isinstance(document, etree._Element):
        document = _untyped(document, QueryDocument)
    if document is None:
        if not required:
            return None
        raise InvalidParameter(name, "is required")
    try:
        return query_form.load(document, query_form.LANGUAGES[records])
    except InvalidQuery as exc:
        raise InvalidQuery(f"{name}: {exc.message}") from None
