"""REST and SOAP are two doors of one engine: each scenario here is played through both doors of one real
server (SQLite and PostgreSQL) — REST asked for XML (`Accept: application/xml`), SOAP through zeep on the
served WSDL — and the two answers must be the same elements: same names and namespaces, same attributes,
same text, same children in the same order (state, currentElement, stateChangeIndex, owner, flags,
definitionInfo, health, exceptionReport, the pipeline in both data store modes, watchers, errors).

Each door works on an instance of its own, so only what names or times one instance may differ. Those
attributes must be present on both sides; their values are not compared:
- `executionId`, and a watcher's `id`: generated per instance / watcher;
- `externalId`: each door's instances carry their own, so that its query finds only them;
- `createdAt`, `startedAt`, `finishedAt`, `currentTime`: the clock at each instance's steps;
- `processEngineId`: the node that ran it; on PostgreSQL the service runs two gunicorn workers, each an
  engine node, and each door's request may land on either.
`stateChangeIndex` is compared: both instances go through the same states. An error's message is
compared with the instance's or watcher's ID replaced by a placeholder.
"""
from __future__ import annotations

import pytest
import requests
from lxml import etree

from tests.support.namespaces import DAT, Q, pe
from tests.support.server import unique
from tests.support.soap import entries, fault_type, store, store_xml
from tests.support.soap import query as soap_query

# The fixtures `server` (a real server, SQLite and PostgreSQL, per module) and `soap` (zeep on the WSDL it
# serves) are tests/conftest.py's.

IDS_AND_TIMES = {"executionId", "externalId", "createdAt", "startedAt", "finishedAt", "currentTime", "processEngineId"}


def content(element: etree._Element) -> tuple:
    """What an element says, whatever its prefixes, with the values of IDS_AND_TIMES blanked."""
    ignored = IDS_AND_TIMES | ({"id"} if element.tag == pe("processWatcher") else set())
    attributes = {name: "…" if name in ignored else value for name, value in element.attrib.items()}
    return (element.tag, attributes, (element.text or "").strip(),
            [content(child) for child in element if isinstance(child.tag, str)])


def error_content(error: etree._Element, entity_id: str) -> tuple:
    assert error.tag == pe("error"), etree.tostring(error)
    return error.get("type"), error.get("message").replace(entity_id, "{id}")


class Rest:
    """REST's XML answers (simple data store mode unless asked), each checked for its status."""

    def __init__(self, server) -> None:
        self.server = server

    def request(self, method: str, path: str, body: str | None = None, status: int = 200, mode: str = "simple",
                **params) -> requests.Response:
        headers = {"Accept": "application/xml", "x-infinica-datastore-mode": mode}
        if body is not None:
            headers["Content-Type"] = "application/xml"
        answer = self.server.request(method, path, data=body, params=params, headers=headers)
        assert answer.status_code == status, (method, path, answer.status_code, answer.text)
        return answer

    def call(self, method: str, path: str, body: str | None = None, **kwargs) -> etree._Element | None:
        answer = self.request(method, path, body, **kwargs)
        return etree.fromstring(answer.content) if answer.content else None


@pytest.fixture(scope="module")
def rest(server) -> Rest:
    return Rest(server)


def held(rest: Rest, soap, **params) -> tuple[str, str]:
    """A hold.ipd instance at its wait state through each door: (REST's executionId, SOAP's)."""
    over_rest = rest.call("POST", "run", processUri="hold.ipd", states="WAITING", **params)
    over_soap = soap.result("run", processUri="hold.ipd", states=["WAITING"], **params)
    assert over_rest.get("state") == over_soap.get("state") == "WAITING"
    return over_rest.get("executionId"), over_soap.get("executionId")


def query(external_id: str, limit: int) -> str:
    return (f'<query xmlns="{Q}" xmlns:dat="{DAT}" limit="{limit}"><param field="externalId" operation="equals">'
            f'<values><dat:value>{external_id}</dat:value></values></param></query>')


@pytest.mark.parametrize("mode", ["simple", "standard"])
def test_run(rest, soap, mode):
    over_rest = rest.call("POST", "run", store_xml(**{"in": "Zed"}), mode=mode, processUri="echo.ipd")
    over_soap = soap.result("run", processUri="echo.ipd", processParams=store(**{"in": "Zed"}),
                            simpleDataStore=mode == "simple")
    assert over_rest.get("state") == "FINISHED" and entries(over_rest) == {"in": ["Zed"], "out": ["echo Zed"]}
    assert content(over_soap) == content(over_rest)


def test_wait_and_continue(rest, soap):
    waiting_rest = rest.call("POST", "run", processUri="hold.ipd", states="WAITING", autoDispose="never")
    waiting_soap = soap.result("run", processUri="hold.ipd", states=["WAITING"], autoDispose="never")
    assert (waiting_rest.get("state"), waiting_rest.get("currentElement")) == ("WAITING", "root.hold")
    assert content(waiting_soap) == content(waiting_rest)

    ended_rest = rest.call("POST", f"processes/{waiting_rest.get('executionId')}/start", store_xml(more="yes"))
    ended_soap = soap.result("startProcess", executionId=waiting_soap.get("executionId"),
                             processParams=store(more="yes"))
    assert ended_rest.get("state") == "FINISHED"
    assert entries(ended_rest) == {"x": ["1"], "more": ["yes"], "after": ["1!"]}
    assert content(ended_soap) == content(ended_rest)


def test_failure(rest, soap):
    failed_rest = rest.call("POST", "run", processUri="fail.ipd")
    failed_soap = soap.result("run", processUri="fail.ipd")
    report = failed_rest.find(pe("exceptionReport"))
    assert failed_rest.get("state") == "FAILED" and failed_rest.find(pe("health")).get("state") == "OK"
    assert (report.get("type"), report.get("message"), report.get("source")) == ("Broken", "it broke", "root.f")
    assert content(failed_soap) == content(failed_rest)


def test_query_by_external_id(rest, soap):
    rest_external, soap_external = unique(), unique()
    for _ in range(2):  # two instances per door, each door's under an externalId of its own
        rest.call("POST", "run", processUri="hold.ipd", states="WAITING", externalId=rest_external)
        soap.result("run", processUri="hold.ipd", states=["WAITING"], externalId=soap_external)
    answer = rest.request("POST", "processes/query", query(rest_external, 1), inspectPipeline="true")
    found_rest = etree.fromstring(answer.content)
    wrapper = soap.call("findExecutions", query=soap_query(soap_external, limit=1), inspectPipeline=True)
    found_soap = wrapper.find(pe("processExecutionSnapshots"))
    assert answer.headers["X-Total-Count"] == wrapper.findtext(pe("totalCount")) == "2"
    assert [s.get("externalId") for s in found_rest] == [rest_external]
    assert [s.get("externalId") for s in found_soap] == [soap_external]
    assert content(found_soap) == content(found_rest)


def test_dispose(rest, soap):
    rest_id, soap_id = held(rest, soap, autoDispose="never")
    disposed_rest = rest.call("DELETE", f"processes/{rest_id}")
    disposed_soap = soap.result("disposeProcess", executionId=soap_id)
    assert disposed_rest.get("state") == "WAITING" and content(disposed_soap) == content(disposed_rest)

    assert rest.call("DELETE", f"processes/{rest_id}", status=204) is None  # the spec's "Nothing"
    assert soap.result("disposeProcess", executionId=soap_id) is None
    missing_rest = rest.call("GET", f"processes/{rest_id}", status=404)
    fault = soap.fault("getProcessSnapshot", executionId=soap_id)
    assert fault.code.endswith("Client") and fault.message == missing_rest.get("message").replace(rest_id, soap_id)
    assert error_content(fault.detail.find(pe("error")), soap_id) == error_content(missing_rest, rest_id)
    assert fault_type(fault) == "NotFound"


def test_watcher(rest, soap):
    rest_id, soap_id = held(rest, soap)
    opened_rest = rest.call("POST", "watchers", executionId=rest_id, expectedState="FINISHED", groupId="g-1")
    opened_soap = soap.result("createWatcher", executionId=soap_id, expectedState=["FINISHED"], groupId="g-1")
    assert opened_rest.get("finished") == "false" and content(opened_soap) == content(opened_rest)
    rest_watcher, soap_watcher = opened_rest.get("id"), opened_soap.get("id")

    rest.call("POST", f"processes/{rest_id}/start")
    soap.result("startProcess", executionId=soap_id)
    done_rest = rest.call("GET", f"watchers/{rest_watcher}", timeout=10000)
    done_soap = soap.result("getWatcher", watcherId=soap_watcher, timeout=10000)
    captured = done_rest.find(pe("processExecutionSnapshot"))
    assert done_rest.get("finished") == "true" and captured.get("state") == "FINISHED"
    assert entries(captured) == {"x": ["1"], "after": ["1!"]}
    assert content(done_soap) == content(done_rest)

    for deleted in ("true", "false"):
        assert rest.request("DELETE", f"watchers/{rest_watcher}").text == deleted
        assert soap.result("deleteWatcher", watcherId=soap_watcher).text == deleted
    missing_rest = rest.call("GET", f"watchers/{rest_watcher}", status=404)
    fault = soap.fault("getWatcher", watcherId=soap_watcher)
    assert fault.code.endswith("Client")
    assert error_content(fault.detail.find(pe("error")), soap_watcher) == error_content(missing_rest, rest_watcher)

