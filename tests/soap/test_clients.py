"""The served WSDL in the hands of two more SOAP clients than zeep: suds (Python, `suds-community`) and the
npm package `soap` (Node.js, pinned in tests/soap/node/package-lock.json). Each runs a process, reads its
snapshot and finds it by its externalId against a real server, on SQLite and PostgreSQL (the `server`
fixture of tests/conftest.py).

The Node.js side needs `node` and `npm` on the PATH: without them the test fails, it is not skipped. The
first run installs tests/soap/node/node_modules with `npm ci` (the registry must be reachable once).
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
from suds import WebFault
from suds.client import Client as SudsClient

from tests.support.server import unique
from tests.support.soap import query_xml, store_xml
from tests.support.toolkits import npm_ci

NODE_DIR = Path(__file__).resolve().parent / "node"
SIMPLE_JSON = json.dumps({"dataStore": {"entry": {"name": "in", "type": "text/plain", "value": ["Zed"]}}})


def as_list(value: Any) -> list:
    """One item or a list of them (what a client makes of a repeatable element) as a list."""
    return value if isinstance(value, list) else [] if value is None else [value]


# -- suds -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def suds(server) -> SudsClient:
    return SudsClient(server.root("soap?wsdl"), cache=None)  # no WSDL cache: ports are reused across runs


def suds_entries(snapshot: Any) -> dict[str, list[str]]:
    return {e._name: as_list(e.value) for e in as_list(snapshot.pipeline.entry)}


def test_suds_runs_reads_and_finds_a_process(suds):
    external = unique()
    ended = suds.service.run(processUri="echo.ipd", externalId=external, processParams=store_xml(**{"in": "Zed"}),
                             autoDispose="never")
    assert ended._state == "FINISHED" and ended._externalId == external
    assert suds_entries(ended) == {"in": ["Zed"], "out": ["echo Zed"]}
    execution = ended._executionId

    snapshot = suds.service.getProcessSnapshot(executionId=execution)
    assert (snapshot._executionId, snapshot._state, snapshot.health._state) == (execution, "FINISHED", "OK")
    assert snapshot.definitionInfo._uri == "echo.ipd"

    found = suds.service.findExecutions(query=query_xml(external), inspectPipeline=True)
    assert found.totalCount == 1
    [match] = as_list(found.processExecutionSnapshots.processExecutionSnapshot)
    assert match._executionId == execution and suds_entries(match)["out"] == ["echo Zed"]


def test_suds_sees_a_fault_with_its_type(suds):
    with pytest.raises(WebFault) as info:
        suds.service.getProcessSnapshot(executionId="no-such-execution")
    fault = info.value.fault
    assert fault.faultcode.endswith("Client") and "no-such-execution" in fault.faultstring
    assert fault.detail.error._type == "NotFound"


# -- Node.js, npm package `soap` --------------------------------------------------------------------------
@pytest.fixture(scope="session")
def node_client() -> Callable[[str, list[dict]], list[dict]]:
    """Runs tests/soap/node/client.js: a list of calls in, the client's view of each result out."""
    node = npm_ci(NODE_DIR, "soap")["node"]

    def call(wsdl: str, calls: list[dict]) -> list[dict]:
        done = subprocess.run([node, "client.js", wsdl, json.dumps(calls)], cwd=NODE_DIR, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return call


def node_entries(snapshot: dict) -> dict[str, list[str]]:
    return {e["attributes"]["name"]: as_list(e.get("value")) for e in as_list(snapshot["pipeline"]["entry"])}


def test_node_soap_runs_reads_and_finds_a_process(server, node_client):
    wsdl, external = server.root("soap?wsdl"), unique()
    [ran] = node_client(wsdl, [{"operation": "run", "args": {
        "processUri": "echo.ipd", "externalId": external, "processParams": SIMPLE_JSON, "autoDispose": "never"}}])
    ended = ran["result"]["processExecutionSnapshot"]
    assert ended["attributes"]["state"] == "FINISHED" and ended["attributes"]["externalId"] == external
    assert node_entries(ended) == {"in": ["Zed"], "out": ["echo Zed"]}
    execution = ended["attributes"]["executionId"]

    read, found, missing = node_client(wsdl, [
        {"operation": "getProcessSnapshot", "args": {"executionId": execution}},
        {"operation": "findExecutions", "args": {"query": query_xml(external), "inspectPipeline": True}},
        {"operation": "getProcessSnapshot", "args": {"executionId": "no-such-execution"}}])
    snapshot = read["result"]["processExecutionSnapshot"]
    assert (snapshot["attributes"]["executionId"], snapshot["attributes"]["state"]) == (execution, "FINISHED")
    assert snapshot["health"]["attributes"]["state"] == "OK"
    assert found["result"]["totalCount"] == 1
    [match] = as_list(found["result"]["processExecutionSnapshots"]["processExecutionSnapshot"])
    assert match["attributes"]["executionId"] == execution and node_entries(match)["out"] == ["echo Zed"]
    assert missing["fault"]["code"].endswith("Client") and missing["fault"]["type"] == "NotFound"
