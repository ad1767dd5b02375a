"""The published contract: the served WSDL is the file in wsdl/ (but for its address, which is
server.public_url's), built once and never from a request's Host header, and it offers every operation
of the spec under its SOAP name, and the history's (CONTRACT §12), with deliberate response names and
`simpleDataStore` where it belongs."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import requests
from hypothesis import HealthCheck, given, settings
from lxml import etree

from engine.model.query import And, Not, Or, Param, Query
from schemas import xsd
from schemas.query import dump_xml, load
from tests.support.common import ROOT
from tests.support.namespaces import PE, Q
from tests.support.soap import GOLDEN, WSDL, XML, XS, envelope, result_schema, wsdl_schema
from tests.support.strategies import queries

ADDRESS = re.compile(rb'location="[^"]*"')
STORE_RESULTS = {"processExecutionSnapshot", "processExecutionSnapshots", "dataStore", "processWatcher",
                 "processHistory", "processHistories"}  # a record holds its end pipeline at history level full


def served(server, **headers) -> bytes:
    answer = requests.get(server.root("soap"), params="wsdl", headers=headers, timeout=30)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/xml")
    return answer.content


def test_the_served_wsdl_is_the_published_file(server):
    body = served(server)
    assert ADDRESS.sub(b'location=""', body) == ADDRESS.sub(b'location=""', GOLDEN.read_bytes()), (
        "the WSDL changed: review the diff and run `make wsdl`")
    assert f'location="{server.base}/infinica-process-engine/soap"'.encode() in body


def test_the_address_never_comes_from_the_host_header(server):
    assert served(server, Host="evil.example:666") == served(server)
    assert b"evil.example" not in served(server, Host="evil.example")


def test_the_command_prints_the_published_file():
    env = {k: v for k, v in os.environ.items() if k not in ("PROCESS_ENGINE_CONFIG", "PE_HOST", "PE_PORT")}
    printed = subprocess.run([sys.executable, "-m", "config.cli", "wsdl"], cwd=ROOT, env=env, capture_output=True,
                             check=True).stdout
    assert printed == GOLDEN.read_bytes()


# The SOAP names of the spec's operations (process-engine-api.md, each "**SOAP**" heading), kept here
# because the suite runs from a clone that holds the project only.
SPEC_OPERATIONS = frozenset("""
    checkSanity clearCache clusterConnect clusterDisconnect createWatcher deleteWatcher disposeProcess
    disposeProcesses findExecutions garbageCollect getAttributes getBrokerUri getConstants getFeatures
    getInstanceConstants getMaintenanceLevel getModules getNodeState getNodeStates getProcessSnapshot
    getServiceSnapshot getTaskManagerUrl getTelemetryData getWatcher instantiate listProcessDefinitions
    listServices recoverProcess recoverProcesses reload run setAttribute setBreakpoint setEngineOnline
    setInstanceConstants setLogSettings setMaintenanceLevel setOnline setOwner setPermissions startProcess
    startService terminateProcess uncacheProcesses updateCredentials validate version
    waitForNoRunningProcesses waitForProcess""".split())
# Beyond the spec: the history (CONTRACT §12), in the same WSDL.
HISTORY_OPERATIONS = frozenset({"findHistory", "countHistory", "getHistory", "findOperations", "getHistoryStatistics"})


def wsdl_tree() -> etree._Element:
    return etree.fromstring(GOLDEN.read_bytes())


def test_every_operation_of_the_spec_is_offered():
    offered = {op.get("name") for op in wsdl_tree().iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")}
    spec = SPEC_OPERATIONS
    assert len(spec) == 49 and spec <= offered, spec - offered
    assert offered - spec == HISTORY_OPERATIONS


def test_responses_are_named_and_data_stores_choose_their_form():
    types = {t.get("name"): t for t in wsdl_tree().iter(f"{{{XS}}}complexType") if t.get("name")}
    operations = {op.get("name") for op in wsdl_tree().iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")}
    for operation in operations:
        members = [e.get("name") or e.get("ref").split(":")[1]
                   for e in types[operation + "Response"].iter(f"{{{XS}}}element")]
        assert operation + "Result" not in members, (operation, members)  # Spyne's default name
        request = {e.get("name"): e for e in types[operation].iter(f"{{{XS}}}element")}
        if STORE_RESULTS & set(members):
            assert request["simpleDataStore"].get("default") == "true", operation
        else:
            assert "simpleDataStore" not in request, operation


def test_results_are_typed_as_the_elements_schemas_writes():
    """No result is xs:anyType: each refers to a declared element, so stubs get typed results."""
    types = {t.get("name"): t for t in wsdl_tree().iter(f"{{{XS}}}complexType") if t.get("name")}
    for name, response in types.items():
        if name.endswith("Response"):
            assert all(e.get("type") != "xs:anyType" for e in response.iter(f"{{{XS}}}element")), name
    declared = {e.get("name") for e in wsdl_tree().iterfind(f"{{{WSDL}}}types/{{{XS}}}schema/{{{XS}}}element")}
    assert {"processExecutionSnapshot", "processWatcher", "nodeState", "telemetryData", "dataStore"} <= declared


def test_the_wsdl_is_document_literal_wrapped_over_http():
    root = wsdl_tree()
    binding = root.find(f"{{{WSDL}}}binding/{{http://schemas.xmlsoap.org/wsdl/soap/}}binding")
    assert (binding.get("style"), binding.get("transport")) == ("document", "http://schemas.xmlsoap.org/soap/http")
    assert {b.get("use") for b in root.iter("{http://schemas.xmlsoap.org/wsdl/soap/}body")} == {"literal"}
    assert len(root.findall(f"{{{WSDL}}}service/{{{WSDL}}}port")) == 1


def test_a_strict_reader_loads_the_contract_and_its_answers_fit_it(soap):
    """xmlschema, a strict XSD 1.0 processor, reads the WSDL's inline schemas; answers validate."""
    from xmlschema.extras.wsdl import Wsdl11Document

    document = Wsdl11Document(str(GOLDEN))
    elements = document.schema.maps.elements
    for operation in ("run", "getNodeState", "getConstants", "createWatcher", "findExecutions"):
        assert f"{{http://www.infinica.com/process-engine}}{operation}Response" in elements
    run = soap.call("run", processUri="echo.ipd", simpleDataStore=False)
    elements[run.tag].validate(run)
    elements[soap.call("getConstants").tag].validate(soap.call("getConstants"))
    elements[soap.call("getNodeState").tag].validate(soap.call("getNodeState"))
    record = soap.call("getHistory", executionId=run[0].get("executionId"), simpleDataStore=False)
    elements[record.tag].validate(record)
    for operation in ("findHistory", "countHistory", "findOperations", "getHistoryStatistics"):
        answer = soap.call(operation)
        elements[answer.tag].validate(answer)


def test_the_address_is_the_public_url():
    from config.settings import load_settings
    from soap import build_wsdl

    settings = load_settings({}).with_overrides(server={"public_url": "https://pe.example.com/"})
    assert b'location="https://pe.example.com/infinica-process-engine/soap"' in build_wsdl(settings)


def test_the_service_mounts_the_door_beside_rest(make_settings):
    """config.wsgi composes one WSGI application: REST in Flask, SOAP at {root}/soap in front of it."""
    from config.wsgi import create_application
    from soap import build_wsdl

    settings = make_settings()
    client = create_application(settings).test_client()
    assert client.get("/infinica-process-engine/soap?wsdl").data == build_wsdl(settings)
    answer = client.post("/infinica-process-engine/soap", data=envelope("version"), headers=XML)
    assert answer.status_code == 200 and b"versionResponse" in answer.data
    assert client.get("/infinica-process-engine/rest/version").status_code == 200


def test_every_operation_is_driven_by_a_test():
    """The issue's bar: each operation of the WSDL is called through zeep by some test of tests/soap."""
    offered = {op.get("name") for op in wsdl_tree().iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")}
    tests = "".join(path.read_text() for path in (ROOT / "tests" / "soap").glob("test_*.py")
                    if path.name not in ("test_wsdl.py", "test_fuzz.py", "test_clients.py"))
    assert {op for op in offered if not re.search(rf'[".]{op}["(]', tests)} == set()


def test_every_operation_declares_the_faults_it_answers(soap):
    """Read by zeep from the served WSDL: stub generators get a typed fault for each operation."""
    operations = soap.client.service._binding._operations
    assert set(operations) == SPEC_OPERATIONS | HISTORY_OPERATIONS
    for name, operation in operations.items():
        assert set(operation.faults) == {"error", "errors"}, name


def test_a_fault_detail_is_the_element_its_declaration_names(soap):
    fault = soap.fault("getProcessSnapshot", executionId="no-such-execution")
    error = fault.detail.find(f"{{{PE}}}error")
    result_schema().assertValid(error)
    declared = soap.client.service._binding._operations["getProcessSnapshot"].faults["error"].abstract
    read = declared.parts["error"].element.parse(error, soap.client.wsdl.types)  # as a typed stub reads it
    assert (read.type, read.message) == (error.get("type"), fault.message)


def test_parameters_of_fixed_values_are_enumerations():
    """Stubs get enum types for them; the values are the engine's."""
    from engine.model.states import AUTO_DISPOSE_NAMES, DATA_LEVELS, LOG_LEVELS

    tree = wsdl_tree()
    enumerations = {t.get("name"): tuple(e.get("value") for e in t.iter(f"{{{XS}}}enumeration"))
                    for t in tree.iter(f"{{{XS}}}simpleType")}
    types = {t.get("name"): t for t in tree.iter(f"{{{XS}}}complexType") if t.get("name")}

    def values(operation: str, parameter: str) -> tuple[str, ...]:
        declared = types[operation].find(f".//{{{XS}}}element[@name='{parameter}']").get("type")
        return enumerations[declared.split(":")[1]]

    assert values("run", "autoDispose") == values("instantiate", "autoDispose") == AUTO_DISPOSE_NAMES
    assert values("setLogSettings", "diagnosticLevel") == LOG_LEVELS
    assert values("setLogSettings", "dataLevel") == DATA_LEVELS
    assert values("setEngineOnline", "param") == ("all", "self", "specified")


# -- what stub generators read (CONTRACT §11) --------------------------------------------------------------
QNAME_VALUED = ("type", "ref", "base", "itemType", "refer", "element", "message", "binding")


def test_the_wsdl_is_soap_1_1_only_and_declares_no_namespace_it_does_not_use():
    """gSOAP's wsdl2h generated a SOAP 1.2 client from the SOAP 1.2 namespaces Spyne declares unused."""
    text = GOLDEN.read_bytes()
    assert b"soap12" not in text and b"http://www.w3.org/2003/05/soap-envelope" not in text
    root = wsdl_tree()
    used = {element.prefix for element in root.iter(etree.Element)}
    used |= {value.split(":")[0] for element in root.iter(etree.Element) for name in QNAME_VALUED
             if ":" in (value := element.get(name, ""))}
    declared = {prefix for element in root.iter(etree.Element) for prefix in element.nsmap
                if element.getparent() is None or element.nsmap[prefix] != element.getparent().nsmap.get(prefix)}
    assert declared == used, declared ^ used


DOCUMENT_PARAMETERS = {("run", "processParams"): "dat:DataStore", ("startProcess", "processParams"): "dat:DataStore",
                       ("setInstanceConstants", "constants"): "dat:DataStore", ("findExecutions", "query"): "q:Query",
                       ("disposeProcesses", "query"): "q:Query", ("recoverProcesses", "query"): "q:Query",
                       ("findHistory", "query"): "q:HistoryQuery", ("countHistory", "query"): "q:HistoryQuery",
                       ("findOperations", "query"): "q:OperationLogQuery"}


def test_data_store_and_query_parameters_are_typed_so_stubs_get_classes():
    types = {t.get("name"): t for t in wsdl_tree().iter(f"{{{XS}}}complexType") if t.get("name")}
    operations = [op.get("name") for op in wsdl_tree().iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation")]
    declared = {(op, e.get("name")): e.get("type") for op in operations for e in types[op].iter(f"{{{XS}}}element")}
    assert {key: declared[key] for key in DOCUMENT_PARAMETERS} == DOCUMENT_PARAMETERS
    assert [key for key, kind in declared.items() if kind in ("xs:anyType", None)] == []


def test_each_kind_of_query_offers_stubs_the_fields_of_its_records():
    """findExecutions' q:Query keeps the processes' fields; the history's queries are the same tree with
    the fields the engine reads records and the operation log by, so a stub cannot name a field the
    operation would refuse."""
    from engine.model.history import HISTORY_FIELDS, OPERATION_FIELDS
    from engine.model.query import QueryField

    tree = wsdl_tree()
    enumerations = {t.get("name"): [e.get("value") for e in t.iter(f"{{{XS}}}enumeration")]
                    for t in tree.iter(f"{{{XS}}}simpleType")}
    assert enumerations["Field"] == [f.value for f in QueryField]
    assert enumerations["HistoryField"] == [*HISTORY_FIELDS.names, "duration", "parent", "state"]  # + aliases
    assert enumerations["OperationLogField"] == list(OPERATION_FIELDS.names)
    types = {t.get("name"): t for t in tree.iter(f"{{{XS}}}complexType") if t.get("name")}
    for prefix in ("", "History", "OperationLog"):
        fields = {a.get("type") for name in ("Param", "Criterion")
                  for a in types[prefix + name].iter(f"{{{XS}}}attribute") if a.get("name") == "field"}
        assert fields == {f"q:{prefix}Field"}, prefix
        children = [(e.get("name"), e.get("type")) for e in types[prefix + "Query"].iter(f"{{{XS}}}element")]
        assert children == [("and", f"q:{prefix}Nodes"), ("or", f"q:{prefix}Nodes"), ("not", f"q:{prefix}Not"),
                            ("param", f"q:{prefix}Param"), ("sort", f"q:{prefix}Sort")], prefix


def in_stub_order(node):
    """A tree as a stub writes it from the WSDL's q:Nodes: the sub nodes of and/or by kind (and, or, not, param)."""
    if isinstance(node, Not):
        return Not(in_stub_order(node.node))
    if isinstance(node, (And, Or)):
        return type(node)(tuple(in_stub_order(n) for kind in (And, Or, Not, Param) for n in node.nodes
                                if type(n) is kind))
    return node


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(queries)
def test_every_query_a_stub_writes_is_one_the_service_reads_as_written(q):
    """The WSDL's q:Query (query-wsdl.xsd) is query.xsd written for generators: what a stub fills in is
    valid against both, and the service reads the very tree."""
    written = Query(in_stub_order(q.tree), q.sort, q.offset, q.limit)
    document = dump_xml(written)
    wsdl_schema(Q).assertValid(document)
    xsd.schema("query.xsd").assertValid(document)
    assert load(document) == written
