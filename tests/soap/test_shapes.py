"""What SOAP stubs send (CONTRACT §11), on the wire as each toolkit writes it: document parameters as the
element, as its children, as text, with `xsi:type`; typed values with `xsi:type` of a derived or simple
type; nil and empty request wrappers. Every shape reaches the engine as the same call, and no shape
produces a `soap:Server` fault or a Client fault that does not name the parameter (a property-based test
over every operation of the published WSDL).

The requests go through the whole SOAP application (`create_soap_app`) in-process, on an engine with a
real SQLite file: hundreds of calls in seconds."""
from __future__ import annotations

import base64
import json
import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree
from werkzeug.test import Client as WsgiClient

from config.settings import load_settings
from engine.model.datastore import Value
from engine.runtime.node import ProcessEngine
from soap import create_soap_app
from tests.support.common import SAMPLES, write_definition
from tests.support.namespaces import DAT, PE, Q
from tests.support.soap import GOLDEN, WSDL, XS

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SOAP_ENC = "http://schemas.xmlsoap.org/soap/encoding/"
NAMESPACES = {"e": ENV, "xsi": XSI, "xsd": XS, "dat": DAT, "q": Q, "pe": PE, "enc": SOAP_ENC}
DECLARED = " ".join(f'xmlns:{prefix}="{uri}"' for prefix, uri in NAMESPACES.items())
CLIENT_MISTAKES = ("InvalidParameter", "InvalidDataStore", "InvalidQuery")
UNAVAILABLE = ("EngineOffline", "FeatureUnavailable")
EXAMPLES = int(os.environ.get("PE_FUZZ_EXAMPLES", "40"))  # per operation; 400 ran clean (19,600 calls, 5 min)


# -- the service, in-process -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(tmp_path_factory) -> Iterator[WsgiClient]:
    folder: Path = tmp_path_factory.mktemp("shapes")
    repository = folder / "repo"
    repository.mkdir()
    write_definition(repository, "echo.ipd", '<assign id="a" name="out" select="concat(\'echo \', $in)"/>',
                     '<parameter name="in">nobody</parameter>')
    write_definition(repository, "hold.ipd", '<wait id="hold"/>')
    (repository / "services").mkdir()
    (repository / "services" / "report.ipd").write_bytes((SAMPLES / "services" / "report.ipd").read_bytes())
    settings = load_settings({}).with_overrides(
        storage={"url": f"sqlite:///{folder / 'engine.db'}"}, repository={"path": str(repository)},
        engine={"node_id": "shapes", "timer_poll_ms": 100, "max_timeout_ms": 50, "save_interval_ms": 200},
        services=())
    engine = ProcessEngine(settings).start()
    yield WsgiClient(create_soap_app(engine, settings))
    engine.stop()


def envelope(operation: str, body: str = "", wrapper: str = "") -> bytes:
    return (f'<e:Envelope {DECLARED}><e:Body><pe:{operation}{wrapper}>{body}</pe:{operation}></e:Body>'
            f'</e:Envelope>').encode()


def post(app: WsgiClient, operation: str, body: str = "", wrapper: str = "") -> tuple[int, etree._Element]:
    """The status and the Body's first element (the response wrapper or the Fault)."""
    answer = app.post("/", data=envelope(operation, body, wrapper), headers={"Content-Type": "text/xml"})
    content = answer.get_data()
    assert b"Traceback" not in content and b'File "' not in content, content
    return answer.status_code, etree.fromstring(content).find(f"{{{ENV}}}Body")[0]


def answer(app: WsgiClient, operation: str, body: str = "", wrapper: str = "") -> etree._Element:
    status, result = post(app, operation, body, wrapper)
    assert status == 200, etree.tostring(result)
    return result


def fault(app: WsgiClient, operation: str, body: str = "", wrapper: str = "") -> tuple[str, str, str]:
    """(faultcode's local part, the detail's error type, faultstring) of a call that must fail."""
    status, result = post(app, operation, body, wrapper)
    assert status == 500 and result.tag == f"{{{ENV}}}Fault", etree.tostring(result)
    error = result.find(f"detail/{{{PE}}}error")
    kind = error.get("type") if error is not None else "multi-error"
    return result.findtext("faultcode").rpartition(":")[2], kind, result.findtext("faultstring")


def pipeline(snapshot: etree._Element) -> dict[str, list[str]]:
    return {e.get("name"): [v.text for v in e.findall(f"{{{DAT}}}value")]
            for e in snapshot.iterfind(f"{{{PE}}}pipeline/{{{DAT}}}entry")}


# -- data store parameters in every shape --------------------------------------------------------------------
SIMPLE = '<dat:entry name="in" type="text/plain"><dat:value>Zed</dat:value></dat:entry>'
STANDARD = ('<dat:values><dat:value id="v1" type="text/plain"><dat:content>Zed</dat:content></dat:value></dat:values>'
            '<dat:entries><dat:entry name="in"><dat:value>v1</dat:value></dat:entry></dat:entries>')
STORE_TEXT = f'<dataStore xmlns="{DAT}"><entry name="in" type="text/plain"><value>Zed</value></entry></dataStore>'
STORE_JSON = json.dumps({"dataStore": {"entry": [{"name": "in", "type": "text/plain", "value": ["Zed"]}]}})
STORE_SHAPES = {
    "element, simple form": f"<pe:processParams><dat:dataStore>{SIMPLE}</dat:dataStore></pe:processParams>",
    "element, standard form": f"<pe:processParams><dat:dataStore>{STANDARD}</dat:dataStore></pe:processParams>",
    "children, simple form (JAX-WS, .NET, gSOAP, PHP stubs)": f"<pe:processParams>{SIMPLE}</pe:processParams>",
    "children, standard form": f"<pe:processParams>{STANDARD}</pe:processParams>",
    "children with xsi:type dat:DataStore": f'<pe:processParams xsi:type="dat:DataStore">{SIMPLE}</pe:processParams>',
    "element with xsi:type xsd:anyType":
        f'<pe:processParams xsi:type="xsd:anyType"><dat:dataStore>{SIMPLE}</dat:dataStore></pe:processParams>',
    "XML as text (PHP, SOAP::Lite)": f"<pe:processParams>{escape(STORE_TEXT)}</pe:processParams>",
    "XML as text with xsi:type xsd:string (JAX-WS, .NET String)":
        f'<pe:processParams xsi:type="xsd:string">{escape(STORE_TEXT)}</pe:processParams>',
    "JSON as text": f"<pe:processParams>{escape(STORE_JSON)}</pe:processParams>",
    "JSON as text with xsi:type soapenc:string":
        f'<pe:processParams xsi:type="enc:string">{escape(STORE_JSON)}</pe:processParams>',
    "values with xsi:type xsd:string (JAX-WS, .NET: a String for xs:anyType)":
        '<pe:processParams><dat:entry name="in" type="text/plain">'
        '<dat:value xsi:type="xsd:string">Zed</dat:value></dat:entry></pe:processParams>',
    "structure with xsi:type of the WSDL's types (gSOAP: a class of attributes)":
        '<pe:processParams><dat:entry xsi:type="dat:SimpleEntry" name="in" type="text/plain">'
        '<dat:value xsi:type="xsd:string">Zed</dat:value></dat:entry></pe:processParams>',
    "standard content with xsi:type xsd:string":
        '<pe:processParams><dat:values><dat:value id="v" type="text/plain"><dat:content xsi:type="xsd:string">Zed'
        '</dat:content></dat:value></dat:values><dat:entries><dat:entry name="in"><dat:value>v</dat:value>'
        '</dat:entry></dat:entries></pe:processParams>',
}


@pytest.mark.parametrize("shape", list(STORE_SHAPES.values()), ids=list(STORE_SHAPES))
def test_a_data_store_parameter_reads_the_same_in_every_shape(app, shape):
    snapshot = answer(app, "run", f"<pe:processUri>echo.ipd</pe:processUri>{shape}")[0]
    assert snapshot.get("state") == "FINISHED" and pipeline(snapshot) == {"in": ["Zed"], "out": ["echo Zed"]}


@pytest.mark.parametrize("shape", [STORE_SHAPES["children, simple form (JAX-WS, .NET, gSOAP, PHP stubs)"],
                                   STORE_SHAPES["element, standard form"]], ids=["children", "element"])
def test_a_store_read_as_the_envelope_is_parsed_goes_with_list_parameters(app, shape, monkeypatch):
    """Every envelope read as a large one is (soap.envelope): the store read as it was parsed, and a
    list parameter beside it as Spyne hands it over (a list, which was once looked up as a store)."""
    from soap import envelope as module

    monkeypatch.setattr(module, "READ_AS_PARSED", 0)
    snapshot = answer(app, "run", f"<pe:processUri>echo.ipd</pe:processUri>{shape}<pe:states>FINISHED</pe:states>"
                                  "<pe:states>FAILED</pe:states>")[0]
    assert snapshot.get("state") == "FINISHED" and pipeline(snapshot) == {"in": ["Zed"], "out": ["echo Zed"]}


def test_a_data_store_element_read_by_pattern_goes_with_list_parameters(app, monkeypatch):
    """A large store as most stubs send it (the dataStore element declaring its namespace, no xsi:type
    anywhere) is read from the envelope's bytes by pattern (soap.envelope), and the list parameter
    beside it reaches the operation as Spyne hands it over."""
    from soap import envelope as module

    monkeypatch.setattr(module, "READ_AS_PARSED", 0)
    scanned, scan = [], module.xml_scan_within
    monkeypatch.setattr(module, "xml_scan_within", lambda *args: scanned.append(scan(*args)) or scanned[-1])
    store = f'<d:dataStore xmlns:d="{DAT}">{STANDARD.replace("dat:", "d:")}</d:dataStore>'
    body = (f'<e:Envelope xmlns:e="{ENV}"><e:Body><pe:run xmlns:pe="{PE}"><pe:processUri>echo.ipd</pe:processUri>'
            f'<pe:processParams>{store}</pe:processParams><pe:states>FINISHED</pe:states><pe:states>FAILED'
            f'</pe:states></pe:run></e:Body></e:Envelope>').encode()
    response = app.post("/", data=body, headers={"Content-Type": "text/xml"})
    assert response.status_code == 200, response.get_data()
    snapshot = etree.fromstring(response.get_data()).find(f"{{{ENV}}}Body")[0][0]
    assert snapshot.get("state") == "FINISHED" and pipeline(snapshot) == {"in": ["Zed"], "out": ["echo Zed"]}
    assert [list(read.entries()) for read in scanned] == [[("in", (Value("v1", "text/plain", "Zed"),))]]


def test_instance_constants_take_the_children_shape(app):
    held = answer(app, "run", "<pe:processUri>hold.ipd</pe:processUri><pe:autoDispose>never</pe:autoDispose>"
                              "<pe:timeout>0</pe:timeout>")[0]
    execution = f"<pe:executionId>{held.get('executionId')}</pe:executionId>"
    answer(app, "setInstanceConstants", execution + '<pe:constants><dat:entry name="rate" type="text/plain">'
                                                    '<dat:value xsi:type="xsd:string">0.5</dat:value></dat:entry>'
                                                    '</pe:constants>')
    constants = answer(app, "getInstanceConstants", execution)[0]
    assert [(e.get("name"), e.findtext(f"{{{DAT}}}value")) for e in constants] == [("rate", "0.5")]


@pytest.mark.parametrize("shape, words", [
    (f"<pe:processParams><dataStore>{SIMPLE}</dataStore></pe:processParams>", "dataStore (no namespace)"),
    ("<pe:processParams><dat:dataStore/><dat:dataStore/></pe:processParams>", "dataStore (namespace"),
    (f"<pe:processParams>{SIMPLE}<q:param/></pe:processParams>", "param (namespace"),
    (f"<pe:processParams>{SIMPLE}{STANDARD}</pe:processParams>", "processParams: line"),
    ('<pe:processParams xsi:type="pe:run">x</pe:processParams>', "xsi:type 'pe:run' does not fit"),
    ('<pe:processParams xsi:type="nowhere:DataStore">x</pe:processParams>', "not declared"),
    ("<pe:processParams>{not json</pe:processParams>", "processParams: line 1"),
])
def test_a_data_store_in_a_wrong_shape_is_a_client_fault_naming_the_parameter(app, shape, words):
    code, kind, message = fault(app, "run", f"<pe:processUri>echo.ipd</pe:processUri>{shape}")
    assert code == "Client" and kind in ("InvalidParameter", "InvalidDataStore")
    assert message.startswith("processParams: ") and words in message, message


# -- query parameters in every shape -------------------------------------------------------------------------
def query_shapes(external: str) -> dict[str, tuple[str, str]]:
    """Shapes of `externalId in (external) sorted, offset 1, limit 1`: (wrapper attributes, content)."""
    param = (f'<q:param field="externalId" operation="in"><q:values><dat:value>{external}</dat:value>'
             f'</q:values></q:param><q:sort><q:criterion field="createdAt" ascending="false"/></q:sort>')
    text = f'<query xmlns="{Q}" xmlns:dat="{DAT}" offset="1" limit="1">{param.replace("q:", "")}</query>'
    as_json = json.dumps({"query": {"offset": 1, "limit": 1, "param": {
        "field": "externalId", "operation": "in", "values": {"value": [external]}},
        "sort": {"criterion": [{"field": "createdAt", "ascending": False}]}}})
    return {
        "element": ("", f'<q:query offset="1" limit="1">{param}</q:query>'),
        "children, offset and limit on the parameter (stubs)": (' offset="1" limit="1"', param),
        "children with xsi:type q:Query": (' xsi:type="q:Query" offset="1" limit="1"', param),
        "children with xsi:type of the WSDL's types inside (gSOAP)": (
            ' offset="1" limit="1"', param.replace("<q:criterion ", '<q:criterion xsi:type="q:Criterion" ')
                                         .replace("<q:values>", '<q:values xsi:type="q:ParamValues">')),
        "XML as text": ("", escape(text)),
        "XML as text with xsi:type xsd:string": (' xsi:type="xsd:string"', escape(text)),
        "JSON as text": ("", escape(as_json)),
    }


@pytest.mark.parametrize("shape", list(query_shapes("")), ids=list(query_shapes("")))
def test_a_query_parameter_reads_the_same_in_every_shape(app, shape):
    external = f"shape-{abs(hash(shape))}"
    started = []
    for _ in range(2):
        time.sleep(0.002)  # two createdAt a millisecond apart at least: which is older is then not a tie
        started.append(answer(app, "run", f"<pe:processUri>hold.ipd</pe:processUri><pe:externalId>{external}"
                                          "</pe:externalId><pe:autoDispose>never</pe:autoDispose><pe:timeout>0"
                                          "</pe:timeout>")[0])
    attributes, content = query_shapes(external)[shape]
    found = answer(app, "findExecutions", f"<pe:query{attributes}>{content}</pe:query>")
    snapshots = found.find(f"{{{PE}}}processExecutionSnapshots")
    assert found.findtext(f"{{{PE}}}totalCount") == "2" and len(snapshots) == 1
    assert snapshots[0].get("executionId") == started[0].get("executionId")  # the older, by createdAt descending


@pytest.mark.parametrize("content, words", [
    ('<q:and/><q:param field="state" operation="isNull"/>', "at most one node"),
    ("<q:not/>", "not"),
    ('<q:param field="colour" operation="equals"/>', "colour"),
])
def test_a_query_a_stub_fills_in_wrongly_is_a_client_fault_naming_the_parameter(app, content, words):
    """The WSDL's q:Query has a property per kind of node; a query holds one node, a not exactly one."""
    code, kind, message = fault(app, "findExecutions", f"<pe:query>{content}</pe:query>")
    assert (code, kind) == ("Client", "InvalidQuery") and message.startswith("query: ") and words in message, message


# -- typed values as stubs write them ------------------------------------------------------------------------
@pytest.mark.parametrize("member, expected", [
    ('<pe:timeout xsi:type="xsd:int">0</pe:timeout>', None),        # SOAP::Lite: xsd:int for a long
    ('<pe:timeout xsi:type="xsd:long">0</pe:timeout>', None),
    ('<pe:timeout xsi:type="xsd:short">0</pe:timeout>', None),
    ('<pe:externalId xsi:type="xsd:int">4711</pe:externalId>', ("externalId", "4711")),  # a number's looks
    ('<pe:externalId xsi:type="enc:string">order-1</pe:externalId>', ("externalId", "order-1")),
    ('<pe:autoDispose xsi:type="xsd:string">never</pe:autoDispose>', ("autoDispose", "never")),
    ('<pe:autoDispose xsi:type="pe:AutoDispose">never</pe:autoDispose>', ("autoDispose", "never")),
    ('<pe:debug xsi:type="xsd:boolean">1</pe:debug>', ("debug", "true")),
    ('<pe:states xsi:type="xsd:string">WAITING</pe:states>', ("state", "WAITING")),
])
def test_an_xsi_type_of_the_declared_or_a_simple_type_is_read_by_the_declared_type(app, member, expected):
    snapshot = answer(app, "run", f"<pe:processUri>hold.ipd</pe:processUri>{member}")[0]
    if expected:
        assert snapshot.get(expected[0]) == expected[1]


@pytest.mark.parametrize("member, words", [
    ('<pe:timeout xsi:type="dat:DataStore">0</pe:timeout>', "timeout: xsi:type 'dat:DataStore' does not fit"),
    ('<pe:timeout xsi:type="xsd:anyType">0</pe:timeout>', "timeout: xsi:type 'xsd:anyType' does not fit"),
    ('<pe:timeout xsi:type="zz:int">0</pe:timeout>', "timeout: xsi:type 'zz:int' uses a prefix"),
    ('<pe:timeout xsi:type="xsd:int">soon</pe:timeout>', "timeout: 'soon' is not an integer"),
    ('<pe:peek xsi:type="xsd:string">maybe</pe:peek>', "peek: 'maybe' is not a boolean"),
])
def test_an_xsi_type_that_does_not_fit_is_a_client_fault_naming_the_parameter(app, member, words):
    code, kind, message = fault(app, "run", f"<pe:processUri>hold.ipd</pe:processUri>{member}")
    assert (code, kind) == ("Client", "InvalidParameter") and message.startswith(words), message


# -- nil and empty request wrappers --------------------------------------------------------------------------
@pytest.mark.parametrize("wrapper", [' xsi:nil="true"', ' xsi:nil="1"', "", ' xsi:type="pe:{operation}"'])
def test_a_nil_or_empty_wrapper_is_a_call_without_parameters(app, wrapper):
    """SOAP::Lite sends `<version xsi:nil="true"/>` for every call without parameters."""
    assert answer(app, "version", wrapper=wrapper.format(operation="version"))[0].text.startswith("process-engine")
    node = answer(app, "getNodeState", wrapper=wrapper.format(operation="getNodeState"))
    assert node[0].tag == f"{{{PE}}}nodeState"
    if "nil" not in wrapper:
        ran = answer(app, "run", "<pe:processUri>echo.ipd</pe:processUri>", wrapper.format(operation="run"))
        assert ran[0].get("state") == "FINISHED"


@pytest.mark.parametrize("wrapper", [' xsi:nil="true"', ""])
def test_a_nil_or_empty_wrapper_of_an_operation_with_required_parameters_names_the_first(app, wrapper):
    assert fault(app, "run", wrapper=wrapper) == ("Client", "InvalidParameter", "processUri: is required")
    assert fault(app, "disposeProcesses", wrapper=wrapper) == ("Client", "InvalidParameter", "query: is required")


def test_a_wrapper_of_another_type_is_a_client_fault(app):
    code, kind, message = fault(app, "version", wrapper=' xsi:type="pe:run"')
    assert (code, kind) == ("Client", "InvalidParameter") and message.startswith("version: xsi:type 'pe:run'")


def test_a_parameter_given_twice_is_named(app):
    code, kind, message = fault(app, "run", "<pe:processUri>a.ipd</pe:processUri><pe:processUri>b.ipd</pe:processUri>")
    assert (code, kind, message) == ("Client", "InvalidParameter",
                                     "processUri: is given 2 times; the WSDL allows it once")


# -- every operation, every parameter, every shape ---------------------------------------------------------
class Member:
    def __init__(self, element: etree._Element) -> None:
        self.name, self.type = element.get("name"), element.get("type")
        self.required = element.get("minOccurs", "1") != "0"


@lru_cache(maxsize=1)
def operations() -> dict[str, list[Member]]:
    """Every operation of the published WSDL with its request members."""
    root = etree.parse(str(GOLDEN)).getroot()
    types = {t.get("name"): t for t in root.iter(f"{{{XS}}}complexType") if t.get("name")}
    names = [op.get("name") for op in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")]
    return {op: [Member(e) for e in types[op].iter(f"{{{XS}}}element")] for op in names}


@lru_cache(maxsize=1)
def enumerations() -> dict[str, str]:
    root = etree.parse(str(GOLDEN)).getroot()
    return {f"tns:{t.get('name')}": t.find(f"{{{XS}}}restriction/{{{XS}}}enumeration").get("value")
            for t in root.iter(f"{{{XS}}}simpleType") if t.get("name")}


VALID = {"xs:string": "x", "xs:boolean": "true", "xs:long": "0", "xs:dateTime": "2026-01-01T00:00:00Z",
         "xs:base64Binary": base64.b64encode(b"<process/>").decode(),
         "dat:DataStore": SIMPLE,
         "q:Query": '<q:param field="externalId" operation="equals"><q:values><dat:value>x</dat:value></q:values>'
                    '</q:param>'}


def valid(member: Member) -> str:
    return VALID.get(member.type) or enumerations()[member.type]


# Values and shapes stubs and careless callers send; {m} is the member's qualified name.
TEXTS = ["", "x", " ", "0", "-1", "-2", "1", "99999999999999999999", "true", "FALSE", "yes", "2026-13-45T99:00:00Z",
         "2026-01-01T00:00:00", "WAITING", "RUNNING,FAILED", "never", "all", "AAAA", "not base64!", "&lt;a/&gt;",
         escape(STORE_TEXT), escape(STORE_JSON), '{"query": {}}', "[1, 2]", "null", "é\u2028,,"]
XSI_TYPES = ["xsd:string", "xsd:int", "xsd:long", "xsd:boolean", "xsd:dateTime", "xsd:base64Binary", "xsd:anyType",
             "xsd:nonsense", "enc:string", "dat:DataStore", "q:Query", "pe:run", "pe:AutoDispose", "zz:thing", ""]
CHILDREN = [f"<dat:dataStore>{SIMPLE}</dat:dataStore>", SIMPLE, STANDARD, VALID["q:Query"],
            f"<q:query>{VALID['q:Query']}</q:query>", "<dat:dataStore/><dat:dataStore/>", "<foreign/>",
            "<pe:processUri>x</pe:processUri>", "<dat:entry/>", "<q:param/>", "<q:not/>"]
xml_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Cn")) | st.sampled_from("\t\n"), max_size=12)


@st.composite
def member_shapes(draw: Any, name: str) -> str:
    """One member as some client may write it: absent, empty, nil, a value, typed, elements, twice."""
    tag = f"pe:{name}"
    kind = draw(st.sampled_from(["absent", "empty", "nil", "text", "typed", "children", "typed children",
                                 "twice"]))
    text = draw(st.sampled_from(TEXTS) | xml_text.map(escape))
    typed = f' xsi:type="{draw(st.sampled_from(XSI_TYPES))}"'.replace(' xsi:type=""', ' xsi:type=" "')
    children = "".join(draw(st.lists(st.sampled_from(CHILDREN), min_size=1, max_size=2)))
    return {"absent": "", "empty": f"<{tag}/>", "nil": f'<{tag} xsi:nil="{draw(st.sampled_from(["true", "1"]))}"/>',
            "text": f"<{tag}>{text}</{tag}>", "typed": f"<{tag}{typed}>{text}</{tag}>",
            "children": f"<{tag}>{children}</{tag}>", "typed children": f"<{tag}{typed}>{children}</{tag}>",
            "twice": f"<{tag}>{text}</{tag}><{tag}>{text}</{tag}>"}[kind]


# What a call may change that would make the next one answer "unavailable": put back after each.
RESTORE = {"clusterDisconnect": ("clusterConnect", ""), "setEngineOnline": ("setEngineOnline", "<pe:online>1</pe:online>"),
           "setMaintenanceLevel": ("setMaintenanceLevel", "<pe:levelId>normal</pe:levelId>")}


def call_without(app: WsgiClient, operation: str, mutated: str, shape: str) -> tuple[int, etree._Element]:
    members = operations()[operation]
    body = "".join(shape if m.name == mutated else f"<pe:{m.name}>{valid(m)}</pe:{m.name}>" if m.required else ""
                   for m in members)
    try:
        return post(app, operation, body)
    finally:
        if operation in RESTORE:
            post(app, *RESTORE[operation])


@pytest.mark.parametrize("operation", sorted(operations()))
@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_shape_of_any_parameter_is_a_server_fault_or_an_unnamed_client_fault(app, operation, data):
    members = operations()[operation]
    if not members:  # a wrapper only: its own shapes
        shape = data.draw(st.sampled_from(["", ' xsi:nil="true"', ' xsi:type="pe:run"', ' xsi:type="xsd:string"']))
        status, result = post(app, operation, wrapper=shape)
        assert status == 200 or result.findtext("faultcode").endswith(":Client"), etree.tostring(result)
        return
    mutated = data.draw(st.sampled_from(members)).name
    shape = data.draw(member_shapes(mutated))
    status, result = call_without(app, operation, mutated, shape)
    if status == 200:
        assert result.tag == f"{{{PE}}}{operation}Response"
        return
    code = result.findtext("faultcode").rpartition(":")[2]
    error = result.find(f"detail/{{{PE}}}error")
    kind = error.get("type") if error is not None else "multi-error"
    message = result.findtext("faultstring")
    assert code == "Client" or kind in UNAVAILABLE, (shape, etree.tostring(result))
    if kind in CLIENT_MISTAKES:
        named = [m.name for m in members if message.startswith(f"{m.name}: ")]
        assert named, (shape, message)  # the parameter at fault, at the head of the message
        if named != [mutated]:  # another parameter: only one the same call without this shape blames too
            assert other_fault(app, operation, mutated) == message, (shape, message)


def other_fault(app: WsgiClient, operation: str, mutated: str) -> str | None:
    """The fault of the call with `mutated` absent and the rest as in the test: what blames another member."""
    status, result = call_without(app, operation, mutated, "")
    return None if status == 200 else result.findtext("faultstring")
