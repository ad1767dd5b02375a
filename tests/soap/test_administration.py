"""The "Administration", "Service Management", "Cluster Control" and "Diagnostic Operations"
operations through zeep. One zeep client keeps one connection, so on PostgreSQL (two workers) the
node-specific calls of a test reach the same node."""
from __future__ import annotations

import pytest
from lxml import etree

from tests.support.namespaces import dat, pe
from tests.support.soap import entries, fault_type, tree, waiting


def client_fault(soap, operation: str, kind: str, **params) -> str:
    fault = soap.fault(operation, **params)
    assert fault.code.endswith("Client") and fault_type(fault) == kind, (fault.code, fault.message)
    return fault.message


def test_scalars(soap):
    assert soap.client.service.version().startswith("process-engine ")
    assert soap.client.service.getBrokerUri() is None and soap.client.service.getTaskManagerUrl() is None
    assert soap.client.service.waitForNoRunningProcesses(timeout=5000) == 0
    client_fault(soap, "waitForNoRunningProcesses", "InvalidParameter", timeout=-2)


def test_clear_cache(soap):
    assert len(soap.call("clearCache")) == 0
    soap.call("clearCache", cachePaths=["definitions", "registrations"])
    soap.call("clearCache", cachePaths=["definitions,registrations"])
    assert "bogus" in client_fault(soap, "clearCache", "InvalidParameter", cachePaths=["bogus"])


def test_constants(soap):
    everything = soap.result("getConstants")
    assert everything.tag == dat("dataStore") and entries(everything)["company"] == ["Example Ltd"]
    billing = soap.result("getConstants", path="billing", simpleDataStore=False)
    assert entries(billing) == {"vat": ["0.2"]} and billing.find(dat("values")) is not None
    client_fault(soap, "getConstants", "NotFound", path="nowhere")


def test_features_modules_definitions_services(soap):
    features = {f.get("name"): f.get("state") for f in soap.result("getFeatures")}
    assert features["instantiate"] == "active"
    modules = soap.result("getModules", lang="de")
    assert "util" in [m.get("name") for m in modules.findall(pe("module"))]
    definitions = [d.get("uri") for d in soap.result("listProcessDefinitions")]
    assert "echo.ipd" in definitions
    services = {s.get("id"): s.get("state") for s in soap.result("listServices")}
    assert "report" in services


def test_maintenance_levels(soap):
    level = soap.result("getMaintenanceLevel")
    assert (level.tag, level.get("id")) == (pe("maintenanceLevel"), "normal")
    soap.call("setMaintenanceLevel", levelId="normal")  # the level in force again: repeatable (CONTRACT §10)
    client_fault(soap, "setMaintenanceLevel", "NotFound", levelId="holiday")
    soap.call("setMaintenanceLevel", levelId="maintenance")
    try:
        assert soap.result("getMaintenanceLevel").get("id") == "maintenance"
    finally:
        soap.call("setMaintenanceLevel", levelId="normal")


def test_node_states_and_engine_online(soap):
    node = soap.result("getNodeState")
    assert node.tag == pe("nodeState") and node.find(pe("cluster")).get("connectionStatus") == "connected"
    assert node.get("engineId") in [n.get("engineId") for n in soap.result("getNodeStates")]
    soap.call("setEngineOnline", online=False, param="self")
    try:
        assert soap.result("getNodeState").get("online") == "false"
    finally:
        soap.call("setEngineOnline", online=True, param="self")
    assert soap.result("getNodeState").get("online") == "true"
    soap.call("setEngineOnline", online=True)
    client_fault(soap, "setEngineOnline", "InvalidParameter", online=True, param="some")


def test_uncache_processes(soap):
    held = waiting(soap, autoDispose="never")
    soap.call("uncacheProcesses", executionId=[held.get("executionId")], states=["WAITING"], health=["OK"],
              timestamp="2030-01-01T00:00:00Z", owner=["admin"], processUri=["hold.ipd"])
    client_fault(soap, "uncacheProcesses", "InvalidParameter", states=["SLEEPING"])


def test_services(soap):
    started = soap.result("startService", serviceId="report", inspectPipeline=True)
    assert started.tag == pe("processExecutionSnapshot")
    assert started.find(pe("definitionInfo")).get("uri") == "services/report.ipd"
    current = soap.result("getServiceSnapshot", serviceId="report", peek=True)
    assert current.get("executionId") == started.get("executionId")
    ended = soap.result("waitForProcess", executionId=started.get("executionId"), timeout=15000, peek=True,
                        inspectPipeline=True, states=["FINISHED"])
    assert ended.get("state") == "FINISHED" and entries(ended)["sum"] == ["55"]
    assert "nope" in client_fault(soap, "startService", "NotFound", serviceId="nope")
    client_fault(soap, "getServiceSnapshot", "NotFound", serviceId="nope")


def test_disconnect_and_connect_again(soap):
    try:
        left = soap.result("clusterDisconnect", timeout=1000)
        assert left.tag == pe("nodeState") and left.find(pe("cluster")).get("connectionStatus") == "disconnected"
        assert "not connected" in client_fault(soap, "clusterDisconnect", "InvalidState")
        fault = soap.fault("run", processUri="done.ipd")
        assert fault.code.endswith("Server") and fault_type(fault) == "EngineOffline"  # 503 over REST
        joined = soap.result("clusterConnect")
        assert joined.find(pe("cluster")).get("connectionStatus") == "connected"
        assert "connected already" in client_fault(soap, "clusterConnect", "InvalidState")
    finally:
        soap.client.service.clusterConnect() if soap.result("getNodeState").find(pe("cluster")).get(
            "connectionStatus") != "connected" else None
    client_fault(soap, "clusterConnect", "InvalidParameter", timeout=-7)


def test_diagnostics(soap):
    report = soap.result("checkSanity")
    assert report.tag == pe("sanityReport") and report.find(pe("checks")) is not None
    asked = soap.result("checkSanity", checks=["noRunning"])
    assert [c.text for c in asked.find(pe("checks"))] == ["noRunning"]
    assert "bogus" in client_fault(soap, "checkSanity", "InvalidParameter", checks=["waitState,bogus"])
    data = soap.result("getTelemetryData", types=["CACHE", "THREAD_POOL"])
    assert [t.text for t in data.find(pe("types"))] == ["CACHE", "THREAD_POOL"]
    assert soap.result("getTelemetryData").tag == pe("telemetryData")
    client_fault(soap, "getTelemetryData", "InvalidParameter", types=["NOPE"])
    assert len(soap.call("garbageCollect", timeout=0)) == 0
    client_fault(soap, "garbageCollect", "InvalidParameter", timeout=-5)


@pytest.mark.parametrize("operation", ["getNodeStates", "getFeatures", "listServices"])
def test_answers_are_fresh_elements_each_time(soap, operation):
    """Spyne moves an AnyXml element into the response: each call must build its own."""
    first, second = soap.result(operation), soap.result(operation)
    assert first.tag == second.tag and len(first) == len(second) > 0


@pytest.mark.parametrize("operation, path, params, mode", [
    ("getConstants", "constants", {}, "simple"), ("getConstants", "constants", {"path": "billing"}, "standard"),
    ("getFeatures", "features", {}, "simple"), ("getModules", "modules", {"lang": "de"}, "simple"),
    ("listProcessDefinitions", "processDefinitions", {}, "simple"),
    ("getMaintenanceLevel", "maintenance", {}, "simple"),
])
def test_results_equal_rest_xml(soap, server, operation, path, params, mode):
    """The same engine call and the same element from schemas/, whichever door is asked."""
    over_soap = soap.result(operation, **params, **({"simpleDataStore": mode == "simple"} if "Constants" in operation
                                                     else {}))
    answer = server.request("GET", path, params=params,
                            headers={"Accept": "application/xml", "x-infinica-datastore-mode": mode})
    assert tree(over_soap) == tree(etree.fromstring(answer.content))
