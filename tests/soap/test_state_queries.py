"""The "Process State Queries" operations through zeep, and the parity of SOAP's snapshot with REST's
XML answer: the same engine call, the same element."""
from __future__ import annotations

import time

from lxml import etree

from tests.support.namespaces import PE, pe
from tests.support.server import unique
from tests.support.soap import entries, fault_type, query, tree, waiting

STREAM = (f'<process xmlns="{PE}" version="4" name="Checked"><parameters><parameter name="who" type="text/plain"/>'
          '</parameters><startElement id="s"/><endElement id="e"/></process>').encode()


def test_get_process_snapshot_equals_rest_xml(soap, server):
    held = waiting(soap, autoDispose="never")
    execution = held.get("executionId")
    for simple, mode in ((True, "simple"), (False, "standard")):
        over_soap = soap.result("getProcessSnapshot", executionId=execution, peek=True, inspectPipeline=True,
                                simpleDataStore=simple)
        answer = server.request("GET", f"processes/{execution}", params={"peek": "true", "inspectPipeline": "true"},
                                headers={"Accept": "application/xml", "x-infinica-datastore-mode": mode})
        over_rest = etree.fromstring(answer.content)
        for element in (over_soap, over_rest):
            del element.attrib["currentTime"]  # the one attribute that is the time of the answer
        assert tree(over_soap) == tree(over_rest)


def test_find_executions_with_total_count(soap):
    external = unique()
    for _ in range(3):
        waiting(soap, externalId=external)
    wrapper = soap.call("findExecutions", query=query(external), inspectPipeline=True)
    snapshots, total = wrapper.find(pe("processExecutionSnapshots")), wrapper.findtext(pe("totalCount"))
    assert total == "3" and len(snapshots) == 3
    assert all(entries(s) == {"x": ["1"]} for s in snapshots)
    wrapper = soap.call("findExecutions", query=query(external, limit=1))
    assert len(wrapper.find(pe("processExecutionSnapshots"))) == 1 and wrapper.findtext(pe("totalCount")) == "3"


def test_validate_a_repository_definition_and_a_stream(soap):
    result = soap.result("validate", processUri="echo.ipd")
    assert result.tag == pe("processValidationResult") and result.get("uri") == "echo.ipd"
    assert [p.get("name") for p in result.find(pe("parameters"))] == ["in"]
    streamed = soap.result("validate", processUri="checked.ipd", process=STREAM, cache=False)
    assert streamed.get("name") == "Checked" and [e.get("id") for e in streamed.find(pe("elements"))]
    fault = soap.fault("validate", processUri="checked.ipd", process=b"<process xmlns='x'/>")
    assert fault.code.endswith("Client") and fault_type(fault) == "InvalidDefinition"


def test_wait_for_process(soap):
    created = soap.result("instantiate", processUri="hold.ipd", autoDispose="never")
    execution = created.get("executionId")
    soap.result("startProcess", executionId=execution, timeout=0)
    held = soap.result("waitForProcess", executionId=execution, states=["WAITING"], timeout=10000)
    assert (held.get("state"), held.get("currentElement")) == ("WAITING", "root.hold")
    started = time.monotonic()
    same = soap.result("waitForProcess", executionId=execution, timeout=300, peek=True,
                       stateChangeIndex=int(held.get("stateChangeIndex")), afterTimestamp="2026-01-01T00:00:00Z")
    assert same.get("state") == "WAITING" and time.monotonic() - started < 10
    fault = soap.fault("waitForProcess", executionId="no-such-execution", timeout=0)
    assert fault_type(fault) == "NotFound"


def test_instance_constants_of_an_unknown_process(soap):
    fault = soap.fault("getInstanceConstants", executionId="no-such-execution")
    assert fault.code.endswith("Client") and fault_type(fault) == "NotFound" and "no-such-execution" in fault.message


def test_zeep_stubs_get_typed_results(soap):
    """The WSDL types every result, so a generated client reads fields, not raw XML."""
    service = soap.client.service
    held = service.run(processUri="hold.ipd", states=["WAITING"], inspectPipeline=True, autoDispose="never",
                       externalId=unique())
    assert (held.state, held.health.state, held.definitionInfo.uri, held.debug) == ("WAITING", "OK", "hold.ipd", False)
    assert [(e.name, e.type, e.value) for e in held.pipeline.entry] == [("x", "text/plain", ["1"])]
    found = service.findExecutions(query=query(held.externalId))
    assert found.totalCount == 1 and found.processExecutionSnapshots.processExecutionSnapshot[0].executionId == \
        held.executionId
    watcher = service.createWatcher(executionId=held.executionId, expectedState=["WAITING"])
    assert watcher.finished is True and watcher.processExecutionSnapshot.state == "WAITING"
    node = service.getNodeState()
    assert node.cluster.connectionStatus == "connected" and node.runningProcesses >= 0
    assert service.deleteWatcher(watcherId=watcher.id) is True


def test_timestamps_are_read_as_rest_reads_them(soap):
    """With a zone or an offset, or naive (taken as UTC): compared with the engine's aware times."""
    held = waiting(soap)
    for moment in ("2026-01-01T00:00:00", "2026-01-01T01:00:00+01:00", "2026-01-01T00:00:00.123Z"):
        answer = soap.result("waitForProcess", executionId=held.get("executionId"), timeout=0, peek=True,
                             afterTimestamp=moment)
        assert answer.get("state") == "WAITING"
    soap.call("uncacheProcesses", timestamp="2026-01-01T00:00:00")
