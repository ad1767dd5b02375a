"""The "Lifecycle Management" operations through zeep, built from the served WSDL: each operation, its
data store and query parameters in their forms, both data store modes, and the faults a caller meets."""
from __future__ import annotations

import base64

import pytest

from tests.support.namespaces import PE, dat, pe
from tests.support.server import unique
from tests.support.soap import entries, fault_type, query, result_schema, standard_store, store, waiting

STREAM = (f'<process xmlns="{PE}" version="4" name="Streamed"><startElement id="s"/>'
          '<assign id="a" name="from">stream</assign></process>').encode()


def client_fault(soap, operation: str, kind: str, **params) -> str:
    fault = soap.fault(operation, **params)
    assert fault.code.endswith("Client") and fault_type(fault) == kind, (fault.code, fault.message)
    return fault.message


# -- run, instantiate, startProcess ------------------------------------------------------------------------
@pytest.mark.parametrize("form", [store, standard_store], ids=["simple", "standard"])
def test_run_takes_a_data_store_in_either_form(soap, form):
    """zeep fills in the WSDL's data store type (other shapes: tests/soap/test_shapes.py)."""
    ended = soap.result("run", processUri="echo.ipd", processParams=form(**{"in": "Zed"}))
    assert ended.tag == pe("processExecutionSnapshot") and ended.get("state") == "FINISHED"
    assert entries(ended)["out"] == ["echo Zed"]


def test_run_answers_the_pipeline_in_the_mode_asked(soap):
    simple = soap.result("run", processUri="echo.ipd")
    assert [c.tag for c in simple.find(pe("pipeline"))] == [dat("entry")] * 2
    standard = soap.result("run", processUri="echo.ipd", simpleDataStore=False)
    assert [c.tag for c in standard.find(pe("pipeline"))] == [dat("values"), dat("entries")]
    assert entries(standard)["out"] == ["echo nobody"]


def test_a_large_data_store_goes_through_run_and_back(soap):
    """2 MB each way through zeep: the answer's pipeline is written as the answer is sent (in chunks, with
    no length); a small answer still goes with its length."""
    values = {f"e{n}": f"{n} " + "x" * 800 + " é <&>" for n in range(2_500)}
    ended = soap.result("run", processUri="done.ipd", processParams=store(**values))
    assert ended.get("state") == "FINISHED" and entries(ended) == {name: [value] for name, value in values.items()}
    headers = {name.lower(): value for name, value in soap.history.last_received["http_headers"].items()}
    assert headers.get("transfer-encoding") == "chunked" and "content-length" not in headers
    assert entries(soap.result("run", processUri="echo.ipd"))["out"] == ["echo nobody"]
    headers = {name.lower(): value for name, value in soap.history.last_received["http_headers"].items()}
    assert "content-length" in headers and "transfer-encoding" not in headers


def test_run_options(soap):
    external = unique()
    held = waiting(soap, externalId=external, debug=True, autoDispose="never", locked=True, timeout=-1)
    assert (held.get("externalId"), held.get("debug"), held.get("autoDispose"), held.get("locked")) == (
        external, "true", "never", "true")
    assert entries(held) == {"x": ["1"]}  # debug: the pipeline of an active process


def test_run_faults(soap):
    assert "nothing.ipd" in client_fault(soap, "run", "NotFound", processUri="nothing.ipd")
    client_fault(soap, "run", "InvalidParameter", processUri="done.ipd", states=["DONE"])
    client_fault(soap, "run", "InvalidParameter", processUri="done.ipd", autoDispose="sometimes")
    client_fault(soap, "run", "InvalidParameter", processUri="done.ipd", timeout=-2)
    mixed = {**store(a="1"), **standard_store(b="2")}  # the WSDL's type allows both forms; a store holds one
    assert "processParams" in client_fault(soap, "run", "InvalidDataStore", processUri="echo.ipd", processParams=mixed)
    not_xml = {"entry": [{"name": "doc", "type": "text/xml", "value": ["plain text"]}]}
    assert "processParams" in client_fault(soap, "run", "InvalidDataStore", processUri="echo.ipd",
                                           processParams=not_xml)


def test_instantiate_then_start_with_parameters(soap):
    created = soap.result("instantiate", processUri="echo.ipd", externalId=unique(), cache=False)
    assert created.get("state") == "CREATED"
    ended = soap.result("startProcess", executionId=created.get("executionId"), processParams=store(**{"in": "Zed"}))
    assert ended.get("state") == "FINISHED" and entries(ended)["out"] == ["echo Zed"]


def test_instantiate_from_a_stream(soap):
    created = soap.result("instantiate", processUri="streamed.ipd", process=STREAM)
    assert created.find(pe("definitionInfo")).get("name") == "Streamed"
    ended = soap.result("startProcess", executionId=created.get("executionId"))
    assert entries(ended)["from"] == ["stream"]


def test_instantiate_faults(soap):
    message = client_fault(soap, "instantiate", "InvalidDefinition", processUri="bad.ipd", process=b"<process")
    assert "line 1" in message
    client_fault(soap, "instantiate", "NotFound", processUri="nothing.ipd")
    client_fault(soap, "instantiate", "InvalidParameter", processUri="../outside.ipd")


def test_start_continues_a_waiting_process(soap):
    held = waiting(soap)
    ended = soap.result("startProcess", executionId=held.get("executionId"), inspectPipeline=True)
    assert ended.get("state") == "FINISHED" and entries(ended)["after"] == ["1!"]


def test_start_faults(soap):
    done = soap.result("run", processUri="done.ipd", autoDispose="never")
    assert "FINISHED" in client_fault(soap, "startProcess", "InvalidState", executionId=done.get("executionId"))
    client_fault(soap, "startProcess", "NotFound", executionId="no-such-execution")


# -- dispose, reload, recover ------------------------------------------------------------------------------
def test_dispose_process_answers_the_snapshot_then_nothing(soap):
    done = soap.result("run", processUri="done.ipd", autoDispose="never")
    disposed = soap.result("disposeProcess", executionId=done.get("executionId"))
    assert disposed.get("executionId") == done.get("executionId")
    assert soap.result("disposeProcess", executionId=done.get("executionId")) is None
    held = waiting(soap)
    soap.result("terminateProcess", executionId=held.get("executionId"), kill=True)


def test_dispose_and_recover_processes_by_query(soap):
    external = unique()
    for _ in range(2):
        soap.result("run", processUri="done.ipd", autoDispose="never", externalId=external)
    recovered = soap.result("recoverProcesses", query=query(external))
    assert recovered.tag == pe("executionIds") and recovered.get("count") == "0"
    disposed = soap.result("disposeProcesses", query=query(external), reportExecutionIds=True)
    assert disposed.get("count") == "2" and len(disposed.findall(pe("executionId"))) == 2
    again = soap.result("disposeProcesses", query=query(external))
    assert again.get("count") == "0" and again.find(pe("executionId")) is None


def test_query_faults(soap):
    no_value = {"param": {"field": "externalId", "operation": "equals"}}
    assert "query" in client_fault(soap, "disposeProcesses", "InvalidQuery", query=no_value)
    two_values = {"param": {"field": "state", "operation": "equals", "values": {"value": ["WAITING", "FAILED"]}}}
    assert "exactly one value" in client_fault(soap, "findExecutions", "InvalidQuery", query=two_values)


def test_dispose_refuses_an_active_process(soap):
    created = soap.result("run", processUri="spin.ipd", states=["RUNNING"])
    client_fault(soap, "disposeProcess", "InvalidState", executionId=created.get("executionId"))
    soap.result("terminateProcess", executionId=created.get("executionId"), kill=True)


def test_reload(soap):
    created = soap.result("instantiate", processUri="hold.ipd")
    reloaded = soap.result("reload", executionId=created.get("executionId"), processUri="done.ipd", setOnline=True)
    assert reloaded.find(pe("definitionInfo")).get("uri") == "done.ipd"
    streamed = soap.result("reload", executionId=created.get("executionId"), processUri="x.ipd", process=STREAM)
    assert streamed.find(pe("definitionInfo")).get("name") == "Streamed"
    held = waiting(soap)
    client_fault(soap, "reload", "InvalidState", executionId=held.get("executionId"))


def test_recover_process_needs_a_lost_one(soap):
    held = waiting(soap)
    client_fault(soap, "recoverProcess", "InvalidState", executionId=held.get("executionId"), setOnline=True,
                 updateCredentials=True)
    client_fault(soap, "recoverProcess", "NotFound", executionId="no-such-execution")


# -- the setters -------------------------------------------------------------------------------------------
def test_attributes(soap):
    held = waiting(soap)
    execution = held.get("executionId")
    assert len(soap.call("setAttribute", executionId=execution, name="color", value="blue")) == 0
    soap.call("setAttribute", executionId=execution, name="size", value="L")
    attributes = soap.result("getAttributes", executionId=execution, name=["color"])
    assert [(a.get("name"), a.text) for a in attributes] == [("color", "blue")]
    assert len(soap.result("getAttributes", executionId=execution)) == 2
    client_fault(soap, "setAttribute", "NotFound", executionId="no-such-execution", name="c", value="x")


def test_breakpoints(soap):
    created = soap.result("instantiate", processUri="hold.ipd")
    execution = created.get("executionId")
    assert soap.result("setBreakpoint", executionId=execution, elementId="root.b").get("state") == "CREATED"
    assert soap.result("startProcess", executionId=execution, states=["WAITING"]).get("state") == "WAITING"
    paused = soap.result("startProcess", executionId=execution, states=["PAUSED"])
    assert (paused.get("state"), paused.get("currentElement")) == ("PAUSED", "root.b")
    removed = soap.result("setBreakpoint", executionId=execution, elementId="root.b", remove=True)
    assert removed.get("state") == "PAUSED"
    assert soap.result("startProcess", executionId=execution).get("state") == "FINISHED"
    client_fault(soap, "setBreakpoint", "NotFound", executionId=execution, elementId="root.nowhere")


def test_instance_constants(soap):
    held = waiting(soap)
    execution = held.get("executionId")
    answer = soap.result("setInstanceConstants", executionId=execution, constants=store(rate="0.5"))
    assert answer.get("executionId") == execution
    constants = soap.result("getInstanceConstants", executionId=execution)
    assert constants.tag == dat("dataStore") and entries(constants) == {"rate": ["0.5"]}
    standard = soap.result("getInstanceConstants", executionId=execution, simpleDataStore=False)
    assert [c.tag for c in standard] == [dat("values"), dat("entries")] and entries(standard) == {"rate": ["0.5"]}


def test_log_settings(soap):
    held = waiting(soap)
    answer = soap.result("setLogSettings", executionId=held.get("executionId"), diagnosticLevel="debug",
                         dataLevel="full", trace=True)
    assert answer.get("executionId") == held.get("executionId")
    client_fault(soap, "setLogSettings", "InvalidParameter", executionId=held.get("executionId"), dataLevel="all")


def test_online(soap):
    held = waiting(soap)
    execution = held.get("executionId")
    assert soap.result("setOnline", executionId=execution, online=False).get("online") == "false"
    assert soap.result("setOnline", executionId=execution, online=True, timeout=0, peek=True).get("online") == "true"


def test_owner_permissions_and_credentials(soap):
    held = waiting(soap)
    execution = held.get("executionId")
    assert soap.result("setOwner", executionId=execution, owner="carol").get("owner") == "carol"
    granted = soap.result("setPermissions", executionId=execution, name="clerks", privileges=["read,execute"])
    aces = {a.get("name"): [p.text for p in a.findall(pe("privilege"))] for a in granted.find(pe("permissions"))}
    assert aces == {"clerks": ["execute", "read"]}
    repeated = soap.result("setPermissions", executionId=execution, name="bob", privileges=["dispose", "read"])
    assert len(repeated.find(pe("permissions"))) == 2
    cleared = soap.result("setPermissions", executionId=execution, name="bob")
    assert [a.get("name") for a in cleared.find(pe("permissions"))] == ["clerks"]
    client_fault(soap, "setPermissions", "InvalidParameter", executionId=execution, name="x", privileges=["fly"])
    assert soap.result("updateCredentials", executionId=execution).get("currentUser") == "admin"


def test_terminate(soap):
    held = waiting(soap)
    ended = soap.result("terminateProcess", executionId=held.get("executionId"), fail=True, message="given up",
                        stateChangeIndex=int(held.get("stateChangeIndex")))
    assert (ended.get("state"), ended.get("message")) == ("FAILED", "given up")
    running = soap.result("run", processUri="spin.ipd", states=["RUNNING"], autoDispose="never")
    killed = soap.result("terminateProcess", executionId=running.get("executionId"), kill=True, inspectPipeline=True)
    assert killed.find(pe("health")).get("state") == "KILLED"
    client_fault(soap, "terminateProcess", "InvalidState", executionId=killed.get("executionId"))


def test_a_base64_stream_travels_as_bytes(soap):
    """zeep encodes bytes as base64Binary; the engine gets the very IPD."""
    created = soap.result("instantiate", processUri="b64.ipd", process=base64.b64decode(base64.b64encode(STREAM)))
    assert created.find(pe("definitionInfo")).get("name") == "Streamed"


FIXED = (f'<process xmlns="{PE}" version="4"><constants><constant name="fixed" overridable="false">1</constant>'
         '<constant name="free">2</constant></constants><startElement id="s"/><wait id="w"/></process>').encode()


def test_set_instance_constants_reports_per_entity_failures(soap):
    """The spec's multi-error response, as REST's XML body, is the fault's detail."""
    created = soap.result("instantiate", processUri="streams/fixed.ipd", process=FIXED)
    both = store(fixed="x", free="y")
    fault = soap.fault("setInstanceConstants", executionId=created.get("executionId"), constants=both)
    assert fault.code.endswith("Client") and "overridable" in fault.message
    errors = fault.detail.find(pe("errors"))
    assert [k.text for k in errors.iterfind("entry/key")] == ["fixed"]
    result_schema().assertValid(errors)  # the detail the WSDL declares for the `errors` fault
    assert entries(soap.result("getInstanceConstants", executionId=created.get("executionId"))) == {}
