"""The Spyne application and its WSDL, built once: the WSDL's `soap:address` is `server.public_url`
(default http://{host}:{port}) + `{root}/soap`, never a request's Host header (CONTRACT §1), and it is
pretty-printed, so the published copy in `wsdl/` is a readable, reviewable diff."""
from __future__ import annotations

import copy
from importlib import resources
from typing import Any

from lxml import etree
from spyne.interface.wsdl import Wsdl11

from schemas import history, query, results
from schemas.namespaces import DATASTORE, PROCESS, QUERY
from schemas.shape_xsd import XS, results_schema

from .administration import AdministrationService, ClusterService, DiagnosticService, ServiceManagementService
from .faults import EngineApplication
from .history import HistoryService
from .lifecycle import LifecycleService
from .protocol import EngineSoap
from .state_queries import StateQueryService
from .types import PREFIXES, Document, prefixed
from .watchers import WatcherService

WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
XS_SEQUENCE = f"{{{XS}}}sequence"
RESULT_SHAPES = [results.ATTRIBUTES, results.WATCHER, results.FEATURES, results.MAINTENANCE_LEVEL, results.MODULES,
                 results.NODE_STATE, results.NODE_STATES, results.DEFINITIONS, results.SERVICES,
                 results.SANITY_REPORT, results.TELEMETRY, results.ERROR, history.PROCESS_HISTORIES,
                 history.PROCESS_HISTORY, history.OPERATIONS, history.HISTORY_STATISTICS]
SERVICES = [LifecycleService, StateQueryService, WatcherService, AdministrationService, ServiceManagementService,
            ClusterService, DiagnosticService, HistoryService]


def build_application() -> EngineApplication:
    application = EngineApplication(SERVICES, tns=PROCESS, name="ProcessEngine",
                                    in_protocol=EngineSoap(validator="soft"), out_protocol=EngineSoap())
    application.transport = "http://schemas.xmlsoap.org/soap/http"  # what Spyne's WSGI server would set
    return application


def endpoint_url(settings: Any) -> str:
    return f"{settings.server.base_url}{settings.server.context_path.rstrip('/')}/soap"


def build_wsdl(settings: Any, application: EngineApplication | None = None) -> bytes:
    """The WSDL as this service publishes it (bytes, pretty-printed UTF-8)."""
    document = Wsdl11((application or build_application()).interface)
    document.build_interface_document(endpoint_url(settings))
    root = etree.fromstring(document.get_interface_document())
    _one_port(root)
    _typed_results(root)
    _typed_documents(root, document.interface)
    _declared_faults(root)
    _one_declaration_per_type(root)
    _simple_types_by_name(root)
    return etree.tostring(_soap11_namespaces_only(root), pretty_print=True, xml_declaration=True, encoding="UTF-8")


# The namespaces the WSDL declares on its root: SOAP 1.1 only (CONTRACT §11). Spyne declares SOAP 1.2,
# WS-Addressing, XOP and more besides, unused, and gSOAP's wsdl2h generates a SOAP 1.2 client from them.
ROOT_NAMESPACES = {"wsdl": WSDL, "wsdlsoap11": WSDL_SOAP, "xs": XS, "tns": PROCESS, "dat": DATASTORE, "q": QUERY}


def _soap11_namespaces_only(root: etree._Element) -> etree._Element:
    declared = etree.Element(root.tag, dict(root.attrib), nsmap=ROOT_NAMESPACES)
    declared.extend(root)
    etree.cleanup_namespaces(declared, keep_ns_prefixes=list(ROOT_NAMESPACES))
    return declared


def _one_port(root: etree._Element) -> None:
    """Spyne writes a port per service class; they share the one binding, so one port is kept."""
    ports = root.findall(f"{{{WSDL}}}service/{{{WSDL}}}port")
    for port in ports[1:]:
        port.getparent().remove(port)


# The detail of a fault: `<tns:error>`, or for per-entity failures `<tns:errors>` of unqualified entries.
_MULTI_ERROR = f"""<xs:element xmlns:xs="{XS}" name="errors"><xs:complexType><xs:sequence>
  <xs:element name="entry" form="unqualified" minOccurs="0" maxOccurs="unbounded"><xs:complexType><xs:sequence>
    <xs:element name="key" form="unqualified" type="xs:string"/>
    <xs:element name="value" form="unqualified" type="xs:string"/>
  </xs:sequence></xs:complexType></xs:element>
</xs:sequence></xs:complexType></xs:element>"""
FAULTS = ("error", "errors")


def _declared_faults(root: etree._Element) -> None:
    """Every operation declares the faults it may answer, with the detail's element, so that stubs
    generated from the WSDL know the fault and its type (Spyne writes none)."""
    results_schema = root.find(f"{{{WSDL}}}types/{{{XS}}}schema[@targetNamespace='{PROCESS}']")
    results_schema.append(etree.fromstring(_MULTI_ERROR, etree.XMLParser(remove_blank_text=True)))
    last_message = root.findall(f"{{{WSDL}}}message")[-1]
    for name in reversed(FAULTS):
        message = etree.Element(f"{{{WSDL}}}message", name=name)
        etree.SubElement(message, f"{{{WSDL}}}part", name=name, element=f"tns:{name}")
        last_message.addnext(message)
    for operation in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation"):
        for name in FAULTS:
            etree.SubElement(operation, f"{{{WSDL}}}fault", name=name, message=f"tns:{name}")
    for operation in root.iterfind(f"{{{WSDL}}}binding/{{{WSDL}}}operation"):
        for name in FAULTS:
            fault = etree.SubElement(operation, f"{{{WSDL}}}fault", name=name)
            etree.SubElement(fault, f"{{{WSDL_SOAP}}}fault", name=name, use="literal")


def _one_declaration_per_type(root: etree._Element) -> None:
    """A parameter's enumeration that the results schema declares too (`AutoDispose`, the snapshot's)
    is declared there only: stubs get one enum class for what they read and what they send."""
    results, service = root.findall(f"{{{WSDL}}}types/{{{XS}}}schema[@targetNamespace='{PROCESS}']")
    declared = {t.get("name"): t for t in results.iterfind(f"{{{XS}}}simpleType")}
    for simple in service.findall(f"{{{XS}}}simpleType"):
        twin = declared.get(simple.get("name"))
        if twin is not None:
            if _enumerated(twin) != _enumerated(simple):
                raise ValueError(f"two different declarations of the type {simple.get('name')}")
            service.remove(simple)


def _enumerated(simple: etree._Element) -> list[str]:
    return [e.get("value") for e in simple.iter(f"{{{XS}}}enumeration")]


def _simple_types_by_name(root: etree._Element) -> None:
    """Spyne writes the parameters' enumerations in no fixed order; the published file is compared
    byte for byte, so they go last in each schema, by name."""
    for schema in root.iterfind(f"{{{WSDL}}}types/{{{XS}}}schema"):
        for simple in sorted(schema.findall(f"{{{XS}}}simpleType"), key=lambda e: e.get("name")):
            schema.append(simple)


def _xsd(name: str) -> etree._Element:
    parser = etree.XMLParser(remove_blank_text=True, remove_comments=True)
    with resources.as_file(resources.files("schemas").joinpath("xsd", name)) as path:
        return etree.parse(str(path), parser).getroot()


def _typed_results(root: etree._Element) -> None:
    """Type each result member (Spyne's `xs:anyType`) as a reference to the element `schemas/` writes:
    the data store and snapshot XSDs and the declarations written from the result shapes travel inline
    in `wsdl:types`, so stubs get typed results and one document holds the whole contract."""
    types = root.find(f"{{{WSDL}}}types")
    service_schema = types.find(f"{{{XS}}}schema[@targetNamespace='{PROCESS}']")
    declared = _inline_schemas(types)
    service_schema.insert(0, etree.Element(f"{{{XS}}}import", namespace=DATASTORE))
    for response in service_schema.iterfind(f"{{{XS}}}complexType"):
        if response.get("name").endswith("Response"):
            for member in response.iterfind(f"{{{XS}}}sequence/{{{XS}}}element[@type='xs:anyType']"):
                member.getparent().replace(member, _reference(member.get("name"), declared))


def _typed_documents(root: etree._Element, interface: Any) -> None:
    """Type each data store and query parameter (Spyne's `xs:anyType`) as its document's type, so stubs
    get classes to fill in: `dat:DataStore` (either form) and `q:Query` (the tree of query-wsdl.xsd)."""
    service_schema = root.findall(f"{{{WSDL}}}types/{{{XS}}}schema[@targetNamespace='{PROCESS}']")[-1]  # Spyne's
    service_schema.insert(1, etree.Element(f"{{{XS}}}import", namespace=QUERY))
    requests = {t.get("name"): t for t in service_schema.iterfind(f"{{{XS}}}complexType")}
    for descriptors in interface.service_method_map.values():
        message = descriptors[0].in_message
        for name, kind in message._type_info.items():
            if issubclass(kind, Document):
                member = requests[message.get_type_name()].find(f"{XS_SEQUENCE}/{{{XS}}}element[@name='{name}']")
                member.set("type", prefixed(kind.declared))


def _inline_schemas(types: etree._Element) -> set[str]:
    """Put the data store, results and query schemas first in `types`; the results' element names."""
    result_schema = results_schema(_xsd("snapshot.xsd"), RESULT_SHAPES, {"error": "Error"})  # soap.faults
    for imported in result_schema.iterfind(f"{{{XS}}}import"):
        del imported.attrib["schemaLocation"]  # inline beside it
    stub_schemas = (_stub_schema("datastore-wsdl.xsd", "datastore.xsd"),
                    _query_languages(_stub_schema("query-wsdl.xsd", "query.xsd")))
    for position, schema in enumerate((stub_schemas[0], result_schema, stub_schemas[1])):
        _qualify(schema)
        types.insert(position, schema)
    return {e.get("name") for e in result_schema.iterfind(f"{{{XS}}}element")}


def _stub_schema(name: str, read_with: str) -> etree._Element:
    """A document's schema as written for stub generators (`*-wsdl.xsd`), with the simple types of the
    schema the service reads the document with (names, enumerations, patterns), so they cannot drift."""
    schema = _xsd(name)
    schema.extend(_xsd(read_with).iterfind(f"{{{XS}}}simpleType"))
    return schema


# The types of query-wsdl.xsd that name a field, directly or through another: each other query language
# (schemas.query.LANGUAGES) gets its own copies, prefixed (q:HistoryQuery … q:HistoryField).
_QUERY_TREE = ("Query", "Nodes", "Not", "Param", "Sort", "Criterion")


def _query_languages(schema: etree._Element) -> etree._Element:
    """Beside q:Query, the query tree once more per other kind of record, with its own field enumeration:
    findHistory's `query` is a q:HistoryQuery, so stubs offer the record's fields, while findExecutions'
    keep the processes' enumeration (q:Field)."""
    tree = {t.get("name"): t for t in schema.iterfind(f"{{{XS}}}complexType") if t.get("name") in _QUERY_TREE}
    for language in query.LANGUAGES.values():
        if not language.prefix:
            continue
        renamed = {f"q:{name}": f"q:{language.prefix}{name}" for name in (*_QUERY_TREE, "Field")}
        for name in _QUERY_TREE:
            declared = copy.deepcopy(tree[name])
            declared.set("name", language.prefix + name)
            for element in declared.iter(f"{{{XS}}}element", f"{{{XS}}}attribute"):
                element.set("type", renamed.get(element.get("type"), element.get("type")))
            for text in declared.iter(f"{{{XS}}}documentation"):
                text.text = text.text.replace("process", language.records)
            schema.append(declared)
        schema.append(language.field_type())
    return schema


def _reference(name: str, declared: set[str]) -> etree._Element:
    if name == "dataStore":
        return etree.Element(f"{{{XS}}}element", nsmap={"dat": DATASTORE}, ref="dat:dataStore", minOccurs="0")
    if name not in declared:
        raise ValueError(f"the result {name} has no declaration")
    return etree.Element(f"{{{XS}}}element", ref=f"tns:{name}", minOccurs="0")


_QNAME_ATTRIBUTES = ("type", "ref", "base", "itemType", "refer")


def _qualify(schema: etree._Element) -> None:
    """Write every QName-valued attribute with a prefix the WSDL declares (tns, dat, xs): a schema's
    default namespace does not survive its move into the WSDL, and unprefixed names would then mean
    "no namespace" to a strict reader."""
    for element in schema.iter(etree.Element):
        for name in _QNAME_ATTRIBUTES:
            value = element.get(name)
            if value is not None:
                prefix, _, local = value.rpartition(":")
                element.set(name, f"{PREFIXES[element.nsmap[prefix or None]]}:{local}")
