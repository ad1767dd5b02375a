"""The "Process Watchers" operations through zeep."""
from __future__ import annotations

from tests.support.namespaces import pe
from tests.support.soap import entries, fault_type, waiting


def test_a_watcher_finishes_when_its_state_is_reached(soap):
    created = soap.result("instantiate", processUri="hold.ipd")
    execution = created.get("executionId")
    opened = soap.result("createWatcher", executionId=execution, expectedState=["WAITING"], groupId="g-1")
    assert opened.tag == pe("processWatcher") and opened.get("finished") == "false"
    assert opened.find(pe("processExecutionSnapshot")) is None
    soap.result("startProcess", executionId=execution, timeout=0)
    done = soap.result("getWatcher", watcherId=opened.get("id"), timeout=10000)
    assert done.get("finished") == "true" and done.get("groupId") == "g-1"
    captured = done.find(pe("processExecutionSnapshot"))
    assert captured.get("state") == "WAITING" and entries(captured) == {"x": ["1"]}
    standard = soap.result("getWatcher", watcherId=opened.get("id"), simpleDataStore=False)
    assert standard.find(pe("processExecutionSnapshot")).find(pe("pipeline"))[0].tag.endswith("values")


def test_expectations_already_met_finish_at_once(soap):
    held = waiting(soap)
    watcher = soap.result("createWatcher", executionId=held.get("executionId"), expectedState=["FINISHED,WAITING"],
                          expectedOnlineState=True, expectedElement="root.hold", expectedHealthState=["OK"],
                          expectedStateChangeIndex=0, peek=True, inspectPipeline=False)
    assert watcher.get("finished") == "true"
    assert watcher.find(pe("processExecutionSnapshot")).find(pe("pipeline")) is None


def test_get_watcher_with_finish_and_delete(soap):
    held = waiting(soap)
    opened = soap.result("createWatcher", executionId=held.get("executionId"), expectedState=["FINISHED"])
    finished = soap.result("getWatcher", watcherId=opened.get("id"), finish=True, timeout=0, updateTimeout=5)
    assert finished.get("finished") == "true"
    assert finished.find(pe("processExecutionSnapshot")).get("state") == "WAITING"
    assert soap.result("deleteWatcher", watcherId=opened.get("id")).text == "true"
    assert soap.result("deleteWatcher", watcherId=opened.get("id")).text == "false"
    assert fault_type(soap.fault("getWatcher", watcherId=opened.get("id"))) == "NotFound"


def test_create_watcher_faults(soap):
    held = waiting(soap)
    fault = soap.fault("createWatcher", executionId=held.get("executionId"), expectedState=["DONE"])
    assert fault.code.endswith("Client") and fault_type(fault) == "InvalidParameter"
    assert "expectedState" in fault.message
    fault = soap.fault("createWatcher", executionId=held.get("executionId"), expectedHealthState=["FINE"])
    assert fault_type(fault) == "InvalidParameter"
    assert fault_type(soap.fault("createWatcher", executionId="no-such-execution")) == "NotFound"
