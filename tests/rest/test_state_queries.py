"""The "Process State Queries" endpoints over real HTTP: getAttributes, getInstanceConstants,
getProcessSnapshot, findExecutions, validate and waitForProcess, in JSON and XML, both data store modes,
with their error statuses. The request helpers are tests/support/rest.py's."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from lxml import etree

from tests.support.common import settles
from tests.support.namespaces import DAT, PE, dat, pe
from tests.support.rest import (PROCESS_STREAM, STANDARD, TEXT, XML, call, entries, error, found, instantiate, kill,
                                query_json, query_xml, run, snap, spin, waiting, xml, xml_entries, xml_error)
from tests.support.server import unique

QUERY = "http://www.infinica.com/query"
SHARED = {"dataStore": {  # one value held by two entries, and an entry of two values: the standard form keeps both
    "values": {"value": [{"id": "v1", "type": "text/plain", "content": {"value": ["one"]}},
                         {"id": "v2", "type": "text/plain", "content": {"value": ["two"]}}]},
    "entries": {"entry": [{"name": "a", "value": ["v1"]}, {"name": "b", "value": ["v1", "v2"]}]}}}


def param(field: str, operation: str, *values: str) -> dict:
    return {"param": {"field": field, "operation": operation, "values": {"value": list(values)}}}


def query(server, body: dict, status: int = 200, **kwargs):
    return call(server, "POST", "processes/query", status, json=body, **kwargs)


def mine_and(external_id: str, *nodes: dict) -> dict:
    """A query of my own processes that also match `nodes`."""
    return {"query": {"and": _merge([param("externalId", "equals", external_id), *nodes])}}


def _merge(nodes: list[dict]) -> dict:
    """Sub nodes of an and/or: the JSON form groups them by kind, each kind an array."""
    merged: dict[str, list] = {}
    for node in nodes:
        for kind, body in node.items():
            merged.setdefault(kind, []).append(body)
    return merged


def ids(answer) -> list[str]:
    return [s["executionId"] for s in answer.json()["processExecutionSnapshots"]["processExecutionSnapshot"]]


def ended_with_fetch(server) -> dict:
    """A done.ipd instance (autoDispose fetch) that ended, its end so far only peeked at."""
    created = snap(instantiate(server, processUri="done.ipd"))
    ended = snap(call(server, "POST", f"processes/{created['executionId']}/start", 200, params={"peek": "true"}))
    assert ended["state"] == "FINISHED" and ended["autoDispose"] == "fetch"
    return ended


# -- getAttributes --------------------------------------------------------------------------------------
def _with_attributes(server) -> str:
    held = waiting(server)
    for name, value in (("color", "blue"), ("size", "L"), ("shape", "round")):
        call(server, "PUT", f"processes/{held['executionId']}/attributes/{name}", 204, data=value, headers=TEXT)
    return f"processes/{held['executionId']}/attributes"


def test_get_attributes_all_and_by_name(server):
    path = _with_attributes(server)
    every = call(server, "GET", path, 200).json()["attributes"]["attribute"]
    assert {a["name"]: a["value"] for a in every} == {"color": "blue", "size": "L", "shape": "round"}
    repeated = call(server, "GET", path, 200, params={"name": ["size", "nope"]}).json()
    assert repeated == {"attributes": {"attribute": [{"name": "size", "value": "L"}]}}
    listed = call(server, "GET", f"{path}?name=shape,color", 200).json()["attributes"]["attribute"]
    assert {a["name"] for a in listed} == {"shape", "color"}


def test_get_attributes_in_xml(server):
    path = _with_attributes(server)
    root = xml(call(server, "GET", path, 200, params={"name": "color"}, headers=XML), "attributes")
    assert [(a.get("name"), a.text) for a in root.findall(pe("attribute"))] == [("color", "blue")]
    held = waiting(server)
    empty = xml(call(server, "GET", f"processes/{held['executionId']}/attributes", 200, headers=XML), "attributes")
    assert len(empty) == 0
    assert call(server, "GET", f"processes/{held['executionId']}/attributes", 200).json() == {
        "attributes": {"attribute": []}}


def test_get_attributes_of_an_unknown_execution(server):
    error(call(server, "GET", "processes/no-such-execution/attributes", 404), "NotFound")
    xml_error(call(server, "GET", "processes/no-such-execution/attributes", 404, headers=XML), "NotFound")


# -- getInstanceConstants -------------------------------------------------------------------------------
def _with_constants(server) -> str:
    held = waiting(server)
    path = f"processes/{held['executionId']}/constants"
    call(server, "POST", path, 200, json=SHARED)
    return path


def test_get_instance_constants_simple_json(server):
    got = call(server, "GET", _with_constants(server), 200).json()
    assert got == {"dataStore": {"entry": [{"name": "a", "type": "text/plain", "value": ["one"]},
                                           {"name": "b", "type": "text/plain", "value": ["one", "two"]}]}}


def test_get_instance_constants_standard_json_keeps_ids_and_sharing(server):
    store = call(server, "GET", _with_constants(server), 200, headers=STANDARD).json()["dataStore"]
    values = {v["id"]: (v["type"], v["content"]["value"]) for v in store["values"]["value"]}
    assert values == {"v1": ("text/plain", ["one"]), "v2": ("text/plain", ["two"])}
    assert store["entries"]["entry"] == [{"name": "a", "value": ["v1"]}, {"name": "b", "value": ["v1", "v2"]}]


def test_get_instance_constants_in_xml_both_modes(server):
    path = _with_constants(server)
    answer = call(server, "GET", path, 200, headers=XML)
    assert answer.headers["Content-Type"].startswith("application/xml")
    simple = etree.fromstring(answer.content)
    assert simple.tag == dat("dataStore")
    assert {e.get("name"): [v.text for v in e.findall(dat("value"))] for e in simple.findall(dat("entry"))} == {
        "a": ["one"], "b": ["one", "two"]}
    standard = etree.fromstring(call(server, "GET", path, 200, headers={**XML, **STANDARD}).content)
    assert [(v.get("id"), v.findtext(dat("content"))) for v in standard.find(dat("values"))] == [
        ("v1", "one"), ("v2", "two")]
    assert [[r.text for r in e] for e in standard.find(dat("entries"))] == [["v1"], ["v1", "v2"]]


def test_get_instance_constants_empty_and_unknown(server):
    held = waiting(server)
    assert call(server, "GET", f"processes/{held['executionId']}/constants", 200).json() == {"dataStore": {"entry": []}}
    error(call(server, "GET", "processes/no-such-execution/constants", 404), "NotFound")
    error(call(server, "GET", f"processes/{held['executionId']}/constants", 400,
               headers={"x-infinica-datastore-mode": "lossy"}), "InvalidParameter")


# -- getProcessSnapshot ---------------------------------------------------------------------------------
def test_get_process_snapshot_json_and_xml(server):
    held = waiting(server, unique())
    path = f"processes/{held['executionId']}"
    got = snap(call(server, "GET", path, 200))
    assert {k: got[k] for k in ("executionId", "state", "currentElement", "externalId")} == {
        k: held[k] for k in ("executionId", "state", "currentElement", "externalId")}
    assert got["stateChangeIndex"] == held["stateChangeIndex"] and entries(got) == {"x": ["1"]}
    assert got["currentTime"].endswith("Z") and len(got["currentTime"]) == len("2026-01-01T00:00:00.000Z")
    root = xml(call(server, "GET", path, 200, headers=XML))
    assert root.get("state") == "WAITING" and root.get("stateChangeIndex") == str(held["stateChangeIndex"])
    assert root.get("online") == "true" and xml_entries(root) == {"x": ["1"]}
    definition = root.find(pe("definitionInfo"))
    # Modules share PostgreSQL's schema, where other modules may have registered other revisions of
    # hold.ipd first: the version is the one the JSON form reports, whatever number it got.
    assert (definition.get("uri"), definition.get("location")) == ("hold.ipd", "hold.ipd")
    assert definition.get("version") == str(got["definitionInfo"]["version"]) and int(definition.get("version")) >= 1


def test_get_process_snapshot_in_standard_mode(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}"
    pipeline = snap(call(server, "GET", path, 200, headers=STANDARD))["pipeline"]
    assert pipeline == {"values": {"value": [{"type": "text/plain", "id": pipeline["values"]["value"][0]["id"],
                                              "content": {"value": ["1"]}}]},
                        "entries": {"entry": [{"name": "x", "value": [pipeline["values"]["value"][0]["id"]]}]}}
    root = xml(call(server, "GET", path, 200, headers={**XML, **STANDARD}))
    holder = root.find(pe("pipeline"))
    assert [child.tag for child in holder] == [dat("values"), dat("entries")]


@pytest.mark.parametrize("accept, is_xml", [
    ("text/xml", True), ("application/xml;q=0.9, application/json;q=0.1", True), ("*/*", False),
    ("application/json, application/xml;q=0.5", False), (None, False),
])
def test_get_process_snapshot_negotiates_by_accept(server, accept, is_xml):
    held = waiting(server)
    answer = call(server, "GET", f"processes/{held['executionId']}", 200,
                  headers={"Accept": accept} if accept else {})
    if is_xml:
        assert xml(answer).get("executionId") == held["executionId"]
    else:
        assert snap(answer)["executionId"] == held["executionId"]


def test_an_ended_fetch_process_is_disposed_by_a_fetch_not_by_a_peek(server):
    ended = ended_with_fetch(server)
    path = f"processes/{ended['executionId']}"
    assert snap(call(server, "GET", path, 200, params={"peek": "true"}))["state"] == "FINISHED"
    assert snap(call(server, "GET", path, 200, params={"peek": "TRUE"}))["state"] == "FINISHED"
    assert snap(call(server, "GET", path, 200))["state"] == "FINISHED"
    error(call(server, "GET", path, 404), "NotFound")


def test_get_process_snapshot_pipeline_of_an_active_process(server):
    running = spin(server)
    path = f"processes/{running['executionId']}"
    try:
        assert "pipeline" not in snap(call(server, "GET", path, 200))
        inspected = settles(lambda: entries(snap(call(server, "GET", path, 200, params={
            "inspectPipeline": "true"}))))  # once past a save point
        assert int(inspected["i"][0]) >= 0
    finally:
        kill(server, running["executionId"])


def test_a_failed_process_reports_its_exception(server):
    failed = snap(run(server, "fail.ipd", autoDispose="never"))
    assert failed["state"] == "FAILED"
    report = snap(call(server, "GET", f"processes/{failed['executionId']}", 200))["exceptionReport"]
    assert (report["type"], report["message"]) == ("Broken", "it broke")
    root = xml(call(server, "GET", f"processes/{failed['executionId']}", 200, headers=XML))
    assert root.find(pe("exceptionReport")).get("type") == "Broken"


def test_get_process_snapshot_errors(server):
    error(call(server, "GET", "processes/no-such-execution", 404), "NotFound")
    xml_error(call(server, "GET", "processes/no-such-execution", 404, headers={"Accept": "text/xml"}), "NotFound")
    held = waiting(server)
    error(call(server, "GET", f"processes/{held['executionId']}", 400, params={"peek": "yes"}), "InvalidParameter")
    error(call(server, "GET", f"processes/{held['executionId']}", 400, params={"inspectPipeline": "-1"}),
          "InvalidParameter")


# -- findExecutions -------------------------------------------------------------------------------------
def test_find_executions_pages_and_sorts(server):
    mine = unique()
    made = [waiting(server, mine)["executionId"] for _ in range(3)]
    body = {"query": {**param("externalId", "equals", mine), "offset": "1", "limit": 1,
                      "sort": {"criterion": {"field": "createdAt", "ascending": "false"}}}}
    answer = query(server, body)
    assert answer.headers["X-Total-Count"] == "3" and ids(answer) == [made[1]]
    first = query(server, {"query": {**param("externalId", "equals", mine), "limit": "2",
                                     "sort": {"criterion": [{"field": "createdAt", "ascending": True}]}}})
    assert first.headers["X-Total-Count"] == "3" and ids(first) == made[:2]


def test_find_executions_with_an_xml_query_answers_xml(server):
    mine = unique()
    made = [waiting(server, mine)["executionId"] for _ in range(2)]
    body = (f'<query xmlns="{QUERY}" xmlns:dat="{DAT}" offset="0" limit="5"><param field="externalId" operation="like">'
            f'<values type="text/plain"><dat:value>{mine[:-1]}_</dat:value></values></param>'
            '<sort><criterion field="createdAt" ascending="false"/></sort></query>')
    answer = call(server, "POST", "processes/query", 200, data=body, headers={"Content-Type": "application/xml", **XML})
    assert answer.headers["X-Total-Count"] == "2"
    root = xml(answer, "processExecutionSnapshots")
    items = root.findall(pe("processExecutionSnapshot"))
    assert [s.get("executionId") for s in items] == made[::-1]
    assert all(s.find(pe("pipeline")).find(dat("entry")) is not None for s in items)


def test_find_executions_answers_an_empty_list(server):
    answer = query(server, query_json(unique()))
    assert answer.headers["X-Total-Count"] == "0"
    assert answer.json() == {"processExecutionSnapshots": {"processExecutionSnapshot": []}}
    root = xml(call(server, "POST", "processes/query", 200, data=query_xml(unique()),
                    headers={"Content-Type": "text/xml", **XML}), "processExecutionSnapshots")
    assert len(root) == 0


def test_find_executions_with_and_or_not_in_and_is_null(server):
    mine = unique()
    held = waiting(server, mine)
    created = snap(instantiate(server, processUri="done.ipd", externalId=mine))
    states = query(server, mine_and(mine, param("state", "in", "CREATED", "PAUSED")))
    assert ids(states) == [created["executionId"]]
    unstarted = query(server, mine_and(mine, {"param": {"field": "startedAt", "operation": "isNull"}}))
    assert ids(unstarted) == [created["executionId"]]
    either = query(server, mine_and(mine, {"or": _merge([param("state", "equals", "WAITING"),
                                                        param("processUri", "equals", "done.ipd")])}))
    assert sorted(ids(either)) == sorted([held["executionId"], created["executionId"]])
    negated = query(server, mine_and(mine, {"not": param("state", "equals", "WAITING")}))
    assert ids(negated) == [created["executionId"]]


def test_find_executions_compares_timestamps_and_booleans(server):
    mine = unique()
    first = waiting(server, mine)
    second = waiting(server, mine)
    call(server, "PUT", f"processes/{second['executionId']}/online", 200, data="false", headers=TEXT)
    at = query(server, mine_and(mine, param("createdAt", "equals", first["createdAt"])))
    assert ids(at) == [first["executionId"]]
    shifted = (datetime.fromisoformat(first["createdAt"].replace("Z", "+00:00"))
               .astimezone(timezone(timedelta(hours=2))).isoformat())
    assert ids(query(server, mine_and(mine, param("createdAt", "greaterThan", shifted)))) == (
        [second["executionId"]] if second["createdAt"] > first["createdAt"] else [])
    offline = query(server, mine_and(mine, param("online", "equals", "FALSE")))
    assert ids(offline) == [second["executionId"]]


def test_find_executions_inspects_pipelines_and_never_disposes(server):
    mine = unique()
    running = spin(server, mine)
    try:
        plain = query(server, query_json(mine)).json()["processExecutionSnapshots"]["processExecutionSnapshot"]
        assert "pipeline" not in plain[0]

        def inspected() -> dict:
            answer = query(server, query_json(mine), params={"inspectPipeline": "true"}).json()
            return answer["processExecutionSnapshots"]["processExecutionSnapshot"][0]
        assert "i" in settles(lambda: entries(inspected()))  # once past a save point
    finally:
        kill(server, running["executionId"])
    ended = ended_with_fetch(server)
    answer = query(server, {"query": param("executionId", "equals", ended["executionId"])})
    assert ids(answer) == [ended["executionId"]]
    assert snap(call(server, "GET", f"processes/{ended['executionId']}", 200, params={"peek": "true"}))


def test_find_executions_in_standard_mode(server):
    mine = unique()
    waiting(server, mine)
    item = query(server, query_json(mine), headers=STANDARD).json()["processExecutionSnapshots"][
        "processExecutionSnapshot"][0]
    assert set(item["pipeline"]) == {"values", "entries"}
    root = xml(call(server, "POST", "processes/query", 200, data=query_xml(mine),
                    headers={"Content-Type": "application/xml", **XML, **STANDARD}), "processExecutionSnapshots")
    holder = root.find(pe("processExecutionSnapshot")).find(pe("pipeline"))
    assert [child.tag for child in holder] == [dat("values"), dat("entries")]


def test_an_empty_query_finds_every_process(server):
    mine = unique()
    waiting(server, mine)
    answer = query(server, {"query": {"limit": "1"}})
    assert int(answer.headers["X-Total-Count"]) >= 1 and len(ids(answer)) == 1
    xml_answer = call(server, "POST", "processes/query", 200, data=f'<query xmlns="{QUERY}" limit="0"/>',
                      headers={"Content-Type": "application/xml"})
    assert int(xml_answer.headers["X-Total-Count"]) >= 1 and ids(xml_answer) == []


@pytest.mark.parametrize("body", [
    {"query": param("bogus", "equals", "x")},
    {"query": param("state", "sounds", "x")},
    {"query": param("state", "equals", "SLEEPING")},
    {"query": param("state", "equals", "WAITING", "READY")},
    {"query": param("state", "in")},
    {"query": param("createdAt", "greaterThan", "last week")},
    {"query": param("online", "equals", "perhaps")},
    {"query": param("externalId", "lessThan", "x")},
    {"query": {"not": _merge([param("state", "equals", "READY"), param("state", "equals", "WAITING")])}},
    {"query": {"offset": "-1"}},
    {"query": {"limit": "many"}},
    {"query": {"sort": {"criterion": {"field": "colour"}}}},
    {"query": []},
    {"search": {}},
])
def test_find_executions_refuses_an_invalid_json_query(server, body):
    error(query(server, body, 400), "InvalidQuery")


@pytest.mark.parametrize("body, where", [
    (b"<query xmlns='http://www.infinica.com/query'><param field='state'", "line 1"),
    (b"<query xmlns='http://www.infinica.com/query'>\n  <param field='state' operation='near'/>\n</query>", "line 2"),
    (b"<query xmlns='urn:elsewhere'/>", ""),
    (b'<!DOCTYPE query [<!ENTITY x "y">]><query xmlns="http://www.infinica.com/query"/>', "DOCTYPE"),
])
def test_find_executions_refuses_an_invalid_xml_query(server, body, where):
    message = error(call(server, "POST", "processes/query", 400, data=body,
                         headers={"Content-Type": "application/xml"}), "InvalidQuery")
    assert where in message


def test_find_executions_body_errors(server):
    error(call(server, "POST", "processes/query", 400, json={"query": {}}, params={"inspectPipeline": "no"}),
          "InvalidParameter")
    error(call(server, "POST", "processes/query", 400, data=b'{"query": {', headers={"Content-Type": "application/json"}),
          "InvalidQuery")
    error(call(server, "POST", "processes/query", 415, data="state=WAITING", headers=TEXT), "UnsupportedMediaType")
    xml_error(call(server, "POST", "processes/query", 415, data="x", headers={**TEXT, **XML}), "UnsupportedMediaType")
    xml_error(call(server, "POST", "processes/query", 400, data="<query", headers={"Content-Type": "text/xml", **XML}),
              "InvalidQuery")
    answer = call(server, "GET", "processes/query", 404)  # a GET there asks for the execution "query"
    error(answer, "NotFound")


# -- validate -------------------------------------------------------------------------------------------
def test_validate_a_repository_definition(server):
    result = call(server, "POST", "validate", 200, params={"processUri": "approval.ipd", "cache": "false"}).json()
    validation = result["processValidationResult"]
    assert (validation["uri"], validation["name"]) == ("approval.ipd", "Approval")
    assert validation["parameters"]["parameter"] == [{"name": "amount", "type": "text/plain", "required": True},
                                                      {"name": "deadline", "type": "text/plain", "required": False}]
    assert [e["id"] for e in validation["elements"]["element"]][:3] == ["root.start", "root.requested", "root.decision"]
    assert "root.decided.verdict.approve" in [e["id"] for e in validation["elements"]["element"]]


def test_validate_a_stream_in_xml(server):
    answer = call(server, "POST", "validate", 200, headers=XML, params={"processUri": "streams/v.ipd"},
                  files={"process": ("v.ipd", PROCESS_STREAM, "text/xml")})
    root = xml(answer, "processValidationResult")
    assert (root.get("uri"), root.get("name")) == ("streams/v.ipd", "Streamed")
    assert [e.get("id") for e in root.find(pe("elements")).findall(pe("element"))] == ["root.s", "root.a"]
    assert len(root.find(pe("parameters"))) == 0


def test_validate_a_plain_process_field(server):
    answer = call(server, "POST", "validate", 200, files={"process": (None, PROCESS_STREAM)})
    assert answer.json()["processValidationResult"]["name"] == "Streamed"


def test_validate_errors(server):
    broken = f'<process xmlns="{PE}" version="4">\n<startElement id="s"/>\n<assign id="a"/>\n</process>'
    message = error(call(server, "POST", "validate", 400, files={"process": ("b.ipd", broken, "text/xml")}),
                    "InvalidDefinition")
    assert "line 3" in message and "column" in message
    not_xml = error(call(server, "POST", "validate", 400, files={"process": ("b.ipd", "<process", "text/xml")}),
                    "InvalidDefinition")
    assert "line 1" in not_xml
    xml_error(call(server, "POST", "validate", 400, files={"process": ("b.ipd", "<process", "text/xml")}, headers=XML),
              "InvalidDefinition")
    error(call(server, "POST", "validate", 404, params={"processUri": "no-such.ipd"}), "NotFound")
    error(call(server, "POST", "validate", 400, params={"processUri": "../../outside.ipd"}), "InvalidParameter")
    error(call(server, "POST", "validate", 400), "InvalidParameter")
    error(call(server, "POST", "validate", 400, params={"processUri": "hold.ipd", "cache": "maybe"}),
          "InvalidParameter")
    error(call(server, "POST", "validate", 415, data=PROCESS_STREAM, headers={"Content-Type": "application/xml"}),
          "UnsupportedMediaType")
    doctype = '<!DOCTYPE process [<!ENTITY e "x">]>' + PROCESS_STREAM
    error(call(server, "POST", "validate", 400, files={"process": ("d.ipd", doctype, "text/xml")}), "InvalidDefinition")


# -- waitForProcess -------------------------------------------------------------------------------------
def test_wait_times_out_without_an_error(server):
    held = waiting(server)
    started = time.monotonic()
    timed_out = snap(call(server, "GET", f"processes/{held['executionId']}/wait", 200, params={"timeout": "300"}))
    assert timed_out["state"] == "WAITING" and time.monotonic() - started >= 0.3


def test_wait_for_states_at_once_and_with_a_state_change_index(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/wait"
    same = snap(call(server, "GET", path, 200, params={"states": ["READY", "WAITING"], "timeout": "0"}))
    assert same["stateChangeIndex"] == held["stateChangeIndex"]
    started = time.monotonic()
    later = snap(call(server, "GET", path, 200, params={"states": "WAITING", "timeout": "300",
                                                        "stateChangeIndex": held["stateChangeIndex"]}))
    assert later["stateChangeIndex"] == held["stateChangeIndex"]  # nothing newer happened: it timed out
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    future = snap(call(server, "GET", path, 200, params={"timeout": "300", "states": "WAITING",
                                                         "afterTimestamp": "2099-01-01T00:00:00.000Z"}))
    assert future["state"] == "WAITING" and time.monotonic() - started >= 0.3


def test_wait_sees_a_change_made_meanwhile(server):
    created = snap(instantiate(server, processUri="hold.ipd"))
    path = f"processes/{created['executionId']}"
    call(server, "POST", f"{path}/start", 200, params={"timeout": "0"})
    got = snap(call(server, "GET", f"{path}/wait", 200, params={"states": "WAITING", "stateChangeIndex": 0,
                                                                "afterTimestamp": created["createdAt"]}))
    assert got["state"] == "WAITING" and got["stateChangeIndex"] > 0


def test_wait_for_an_online_state_in_xml(server):
    held = waiting(server)
    call(server, "PUT", f"processes/{held['executionId']}/online", 200, data="false", headers=TEXT)
    root = xml(call(server, "GET", f"processes/{held['executionId']}/wait", 200, headers=XML,
                    params={"waitOnline": "false", "timeout": "0", "inspectPipeline": "true"}))
    assert root.get("online") == "false" and xml_entries(root) == {"x": ["1"]}


def test_wait_for_an_ended_process_returns_at_once_and_fetches(server):
    ended = ended_with_fetch(server)
    path = f"processes/{ended['executionId']}"
    started = time.monotonic()
    peeked = snap(call(server, "GET", f"{path}/wait", 200, params={"states": "RUNNING", "peek": "true"}))
    assert peeked["state"] == "FINISHED" and time.monotonic() - started < 5
    assert snap(call(server, "GET", f"{path}/wait", 200))["state"] == "FINISHED"
    error(call(server, "GET", f"{path}/wait", 404), "NotFound")


@pytest.mark.parametrize("params", [
    {"timeout": "later"}, {"timeout": "-3"}, {"states": "DONE"}, {"waitOnline": "online"},
    {"stateChangeIndex": "1e3"}, {"stateChangeIndex": "99999999999999999999"}, {"afterTimestamp": "yesterday"},
    {"peek": "nope"},
])
def test_wait_refuses_bad_parameters(server, params):
    held = waiting(server)
    message = error(call(server, "GET", f"processes/{held['executionId']}/wait", 400, params=params),
                    "InvalidParameter")
    assert list(params)[0] in message


def test_wait_for_an_unknown_execution(server):
    error(call(server, "GET", "processes/no-such-execution/wait", 404, params={"timeout": "0"}), "NotFound")
    xml_error(call(server, "GET", "processes/no-such-execution/wait", 404, headers=XML), "NotFound")


def test_run_answer_lists_all_states_in_a_finished_query(server):
    """findExecutions by state over what run left behind: FINISHED (never disposed) and FAILED."""
    mine = unique()
    done = snap(run(server, "done.ipd", autoDispose="never", externalId=mine))
    failed = snap(run(server, "fail.ipd", autoDispose="never", externalId=mine))
    answer = query(server, mine_and(mine, param("state", "in", "FINISHED", "FAILED")))
    assert sorted(ids(answer)) == sorted([done["executionId"], failed["executionId"]])
    assert [s["executionId"] for s in found(server, mine)] == [done["executionId"], failed["executionId"]]


@pytest.mark.parametrize("path", ["processes/a\x00b", "processes/a\x00b/wait", "processes/a\x00b/attributes",
                                  "processes/a\x00b/constants"])
def test_a_nul_in_an_execution_id_is_not_a_500(server, request, path):
    answer = server.request("GET", path, params={"timeout": "0"} if path.endswith("wait") else {})
    assert answer.status_code in (400, 404) and "Traceback" not in answer.text, answer.text
