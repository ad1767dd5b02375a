"""The "Lifecycle Management" endpoints over real HTTP: every operation in JSON and XML, bodies in every
form they take, both data store modes, and every error status a client can meet on them."""
from __future__ import annotations

import json
import os
import signal
import time

import pytest
import requests
from lxml import etree
from xml.sax.saxutils import escape

from tests.support.namespaces import DAT, PE, dat, pe
from tests.support.rest import (MODES, PROCESS_STREAM, STANDARD, TEXT, XML, call, entries, error, found, instantiate,
                                kill, pipeline_of, query_json, query_xml, run, snap, spin, waiting, xml, xml_entries,
                                xml_error)
from tests.support.server import sqlite_server, start_server, unique

FIXED = (f'<process xmlns="{PE}" version="4"><constants><constant name="fixed" overridable="false">1</constant>'
         '<constant name="free">2</constant></constants><startElement id="s"/><wait id="w"/></process>')


# -- helpers --------------------------------------------------------------------------------------------
def store_forms(name: str, value: str) -> dict[str, tuple[str, bytes]]:
    """One entry `name` = `value` as a data store in each of its four forms: (Content-Type, body)."""
    return {
        "simple-xml": ("application/xml", f'<dataStore xmlns="{DAT}"><entry name="{name}" type="text/plain">'
                                          f'<value>{value}</value></entry></dataStore>'.encode()),
        "standard-xml": ("text/xml", f'<dataStore xmlns="{DAT}"><values><value id="1" type="text/plain"><content>'
                                     f'{value}</content></value></values><entries><entry name="{name}"><value>1'
                                     f'</value></entry></entries></dataStore>'.encode()),
        "simple-json": ("application/json", json.dumps(
            {"dataStore": {"entry": {"name": name, "type": "text/plain", "value": [value]}}}).encode()),
        "standard-json": ("application/json", json.dumps({"dataStore": {
            "values": {"value": [{"type": "text/plain", "id": "1", "content": {"value": [value]}}]},
            "entries": {"entry": [{"name": name, "value": ["1"]}]}}}).encode()),
    }


FORMS = list(store_forms("n", "v"))


SNAPSHOT_ANSWERS = {  # each on a fresh hold.ipd instance at its wait state, whose pipeline holds x = 1
    "disposeProcess": lambda s, path, h: call(s, "DELETE", path, 200, headers=h),
    "setBreakpoint": lambda s, path, h: call(s, "POST", f"{path}/breakpoints/root.b", 200, headers=h),
    "removeBreakpoint": lambda s, path, h: call(s, "DELETE", f"{path}/breakpoints/root.b", 200, headers=h),
    "setInstanceConstants": lambda s, path, h: call(s, "POST", f"{path}/constants", 200, headers=h,
                                                    json={"dataStore": {"entry": []}}),
    "setLogSettings": lambda s, path, h: call(s, "POST", f"{path}/logSettings", 200, headers=h,
                                              params={"trace": "true"}),
    "setOnline": lambda s, path, h: call(s, "PUT", f"{path}/online", 200, data="true", headers={**TEXT, **h}),
    "setOwner": lambda s, path, h: call(s, "PUT", f"{path}/owner", 200, data="admin", headers={**TEXT, **h}),
    "setPermissions": lambda s, path, h: call(s, "PUT", f"{path}/permissions/x", 200, data="read",
                                              headers={**TEXT, **h}),
    "startProcess": lambda s, path, h: call(s, "POST", f"{path}/start", 200, headers=h),
    "terminateProcess": lambda s, path, h: call(s, "POST", f"{path}/terminate", 200, headers=h),
    "updateCredentials": lambda s, path, h: call(s, "POST", f"{path}/updateCredentials", 200, headers=h),
    "getProcessSnapshot": lambda s, path, h: call(s, "GET", path, 200, headers=h),
    "waitForProcess": lambda s, path, h: call(s, "GET", f"{path}/wait", 200, params={"timeout": "0"}, headers=h),
}


@pytest.mark.parametrize("as_xml, standard", MODES)
@pytest.mark.parametrize("operation", list(SNAPSHOT_ANSWERS))
def test_every_snapshot_answer_in_both_formats_and_modes(server, operation, as_xml, standard):
    held = waiting(server)
    headers = {**(XML if as_xml else {}), **(STANDARD if standard else {})}
    answer = SNAPSHOT_ANSWERS[operation](server, f"processes/{held['executionId']}", headers)
    assert pipeline_of(answer, as_xml, standard)["x"] == ["1"]


@pytest.mark.parametrize("as_xml, standard", MODES)
def test_run_instantiate_and_reload_answers_in_both_formats_and_modes(server, as_xml, standard):
    headers = {**(XML if as_xml else {}), **(STANDARD if standard else {})}
    ended = run(server, "echo.ipd", headers=headers, **{"in.in": "mode"})
    assert pipeline_of(ended, as_xml, standard)["out"] == ["echo mode"]
    created = instantiate(server, headers=headers, processUri="done.ipd")
    assert pipeline_of(created, as_xml, standard) == {}
    execution_id = snap(instantiate(server, processUri="done.ipd"))["executionId"]
    reloaded = call(server, "POST", f"processes/{execution_id}/reload", 200, headers=headers)
    assert pipeline_of(reloaded, as_xml, standard) == {}


# -- disposeProcess -------------------------------------------------------------------------------------
def test_dispose_process_answers_the_snapshot_then_204(server):
    held = waiting(server)
    gone = snap(call(server, "DELETE", f"processes/{held['executionId']}", 200))
    assert gone["executionId"] == held["executionId"] and gone["state"] == "WAITING"
    error(call(server, "GET", f"processes/{held['executionId']}", 404), "NotFound")
    again = call(server, "DELETE", f"processes/{held['executionId']}", 204)
    assert again.content == b""


def test_dispose_process_in_xml(server):
    held = waiting(server)
    root = xml(call(server, "DELETE", f"processes/{held['executionId']}", 200, headers=XML))
    assert root.get("executionId") == held["executionId"] and root.get("state") == "WAITING"
    assert root.find(pe("health")).get("state") == "OK" and root.find(pe("definitionInfo")).get("uri") == "hold.ipd"


def test_dispose_process_unknown_is_204(server):
    assert call(server, "DELETE", "processes/no-such-execution", 204).content == b""


def test_dispose_process_refuses_an_active_one(server):
    running = spin(server)
    try:
        assert "RUNNING" in error(call(server, "DELETE", f"processes/{running['executionId']}", 409), "InvalidState")
        xml_error(call(server, "DELETE", f"processes/{running['executionId']}", 409, headers=XML), "InvalidState")
    finally:
        kill(server, running["executionId"])


# -- disposeProcesses -----------------------------------------------------------------------------------
def test_dispose_processes_with_delete_and_a_json_query(server):
    mine = unique()
    ids = {waiting(server, mine)["executionId"] for _ in range(2)}
    answer = call(server, "DELETE", "processes", 200, params={"reportExecutionIds": "true"}, json=query_json(mine))
    result = answer.json()["executionIds"]
    assert result["count"] == 2 and set(result["executionId"]) == ids
    assert found(server, mine) == []


def test_dispose_processes_with_post_and_an_xml_query(server):
    mine = unique()
    held = waiting(server, mine)
    answer = call(server, "POST", "processes/dispose", 200, data=query_xml(mine),
                  headers={"Content-Type": "application/xml", **XML})
    root = xml(answer, "executionIds")
    assert root.get("count") == "1" and root.findall(pe("executionId")) == []
    error(call(server, "GET", f"processes/{held['executionId']}", 404), "NotFound")


def test_dispose_processes_report_ids_in_xml(server):
    mine = unique()
    held = waiting(server, mine)
    answer = call(server, "POST", "processes/dispose", 200, params={"reportExecutionIds": "1"},
                  data=query_xml(mine), headers={"Content-Type": "text/xml", **XML})
    root = xml(answer, "executionIds")
    assert root.get("count") == "1" and [e.text for e in root.findall(pe("executionId"))] == [held["executionId"]]


def test_dispose_processes_without_report_ids_lists_no_ids_in_json(server):
    mine = unique()
    waiting(server, mine), waiting(server, mine)
    assert call(server, "DELETE", "processes", 200, json=query_json(mine)).json() == {"executionIds": {"count": 2}}


def test_dispose_processes_refuses_all_when_one_is_active(server):
    mine = unique()
    held = waiting(server, mine)
    running = spin(server, mine)
    try:
        error(call(server, "DELETE", "processes", 409, json=query_json(mine)), "InvalidState")
        assert {s["executionId"] for s in found(server, mine)} == {held["executionId"], running["executionId"]}
    finally:
        kill(server, running["executionId"])


@pytest.mark.parametrize("method, path", [("DELETE", "processes"), ("POST", "processes/dispose")])
def test_dispose_processes_needs_a_query(server, method, path):
    error(call(server, method, path, 400), "InvalidParameter")
    error(call(server, method, path, 400, json={"query": {"param": {"field": "bogus", "operation": "equals"}}}),
          "InvalidQuery")
    error(call(server, method, path, 415, data="x", headers=TEXT), "UnsupportedMediaType")
    error(call(server, method, path, 400, params={"reportExecutionIds": "perhaps"}, json=query_json(unique())),
          "InvalidParameter")


# -- instantiate ----------------------------------------------------------------------------------------
def test_instantiate_with_every_form_field(server):
    mine = unique()
    created = snap(instantiate(server, processUri="hold.ipd", externalId=mine, cache="false", threadPoolId="default",
                               debug="true", autoDispose="never", locked="TRUE"))
    assert (created["state"], created["stateChangeIndex"], created["externalId"]) == ("CREATED", 0, mine)
    assert created["debug"] is True and created["locked"] is True and created["online"] is True
    assert created["autoDispose"] == "never" and created["threadPoolId"] == "default"
    assert created["definitionInfo"]["uri"] == "hold.ipd" and created["health"] == {"state": "OK"}
    assert [s["executionId"] for s in found(server, mine)] == [created["executionId"]]


def test_instantiate_in_xml(server):
    root = xml(instantiate(server, headers=XML, processUri="done.ipd", autoDispose="endedOrFailed"))
    assert root.get("state") == "CREATED" and root.get("autoDispose") == "endedOrFailed"
    assert root.get("debug") == "false" and root.find(pe("definitionInfo")).get("uri") == "done.ipd"


def test_instantiate_from_a_process_file_part(server):
    answer = call(server, "POST", "processes", 200, files={
        "processUri": (None, "streams/one.ipd"), "process": ("one.ipd", PROCESS_STREAM, "text/xml")})
    created = snap(answer)
    assert created["definitionInfo"]["name"] == "Streamed" and created["definitionInfo"]["uri"] == "streams/one.ipd"
    ended = snap(call(server, "POST", f"processes/{created['executionId']}/start", 200))
    assert ended["state"] == "FINISHED" and entries(ended)["from"] == ["stream"]


def test_instantiate_from_a_plain_process_field(server):
    created = snap(instantiate(server, processUri="streams/two.ipd", process=PROCESS_STREAM))
    assert created["definitionInfo"]["name"] == "Streamed"


@pytest.mark.parametrize("fields, status, kind", [
    ({"processUri": "done.ipd", "autoDispose": "sometimes"}, 400, "InvalidParameter"),
    ({"processUri": "done.ipd", "debug": "maybe"}, 400, "InvalidParameter"),
    ({"processUri": "done.ipd", "locked": "yes"}, 400, "InvalidParameter"),
    ({"processUri": "done.ipd", "threadPoolId": "no-such-pool"}, 400, "InvalidParameter"),
    ({"processUri": "no-such-file.ipd"}, 404, "NotFound"),
    ({"processUri": "../x.ipd"}, 400, "InvalidParameter"),
    ({"processUri": "a/../../x.ipd"}, 400, "InvalidParameter"),
    ({"externalId": "nothing-to-instantiate"}, 400, "InvalidParameter"),
])
def test_instantiate_refuses_bad_fields(server, fields, status, kind):
    error(instantiate(server, status, **fields), kind)


def test_instantiate_a_stream_with_a_syntax_error_names_line_and_column(server):
    broken = f'<process xmlns="{PE}" version="4">\n  <startElement id="s"/>\n  <assign id="a" name="x">1</assign\n'
    answer = call(server, "POST", "processes", 400, files={
        "processUri": (None, "streams/broken.ipd"), "process": ("broken.ipd", broken, "text/xml")})
    message = error(answer, "InvalidDefinition")
    assert "line 4" in message and "column" in message
    xml_error(call(server, "POST", "processes", 400, headers=XML, files={"process": ("b.ipd", broken, "text/xml")}),
              "InvalidDefinition")


def test_instantiate_takes_only_multipart(server):
    error(call(server, "POST", "processes", 415, json={"processUri": "done.ipd"}), "UnsupportedMediaType")
    error(call(server, "POST", "processes", 415, data="done.ipd", headers=TEXT), "UnsupportedMediaType")


def test_instantiate_with_an_idempotency_key_creates_one_instance(server):
    mine, key = unique(), unique()
    first = snap(instantiate(server, headers={"Idempotency-Key": key}, processUri="done.ipd", externalId=mine))
    again = snap(instantiate(server, headers={"Idempotency-Key": key}, processUri="done.ipd", externalId=mine))
    assert again["executionId"] == first["executionId"] and again["state"] == "CREATED"
    assert len(found(server, mine)) == 1
    other = snap(instantiate(server, headers={"Idempotency-Key": unique()}, processUri="done.ipd", externalId=mine))
    assert other["executionId"] != first["executionId"] and len(found(server, mine)) == 2


def test_an_overlong_idempotency_key_is_refused(server):
    message = error(instantiate(server, 400, headers={"Idempotency-Key": "k" * 300}, processUri="done.ipd"),
                    "InvalidParameter")
    assert "Idempotency-Key" in message
    error(run(server, "done.ipd", 400, headers={"Idempotency-Key": "k" * 300}), "InvalidParameter")


# -- reload ---------------------------------------------------------------------------------------------
def test_reload_from_another_uri(server):
    created = snap(instantiate(server, processUri="done.ipd"))
    reloaded = snap(call(server, "POST", f"processes/{created['executionId']}/reload", 200,
                         params={"processUri": "hold.ipd", "setOnline": "true"}))
    assert reloaded["definitionInfo"]["uri"] == "hold.ipd" and reloaded["state"] == "CREATED"
    started = snap(call(server, "POST", f"processes/{created['executionId']}/start", 200, params={"states": "WAITING"}))
    assert started["currentElement"] == "root.hold"


def test_reload_from_a_process_part_in_xml(server):
    created = snap(instantiate(server, processUri="streams/r.ipd", process=PROCESS_STREAM.replace("Streamed", "V1")))
    answer = call(server, "POST", f"processes/{created['executionId']}/reload", 200, headers=XML,
                  files={"process": ("r.ipd", PROCESS_STREAM.replace("Streamed", "V2"), "text/xml")})
    assert xml(answer).find(pe("definitionInfo")).get("name") == "V2"


def test_reload_errors(server):
    held = waiting(server)
    assert "CREATED" in error(call(server, "POST", f"processes/{held['executionId']}/reload", 409), "InvalidState")
    error(call(server, "POST", "processes/no-such-execution/reload", 404), "NotFound")
    created = snap(instantiate(server, processUri="done.ipd"))
    error(call(server, "POST", f"processes/{created['executionId']}/reload", 404,
               params={"processUri": "missing.ipd"}), "NotFound")
    error(call(server, "POST", f"processes/{created['executionId']}/reload", 400,
               params={"setOnline": "sure"}), "InvalidParameter")
    error(call(server, "POST", f"processes/{created['executionId']}/reload", 415, json={}), "UnsupportedMediaType")


# -- recoverProcess / recoverProcesses ----------------------------------------------------------------
def test_recover_process_needs_a_lost_process(server):
    held = waiting(server)
    assert "LOST" in error(call(server, "POST", f"processes/{held['executionId']}/recover", 409), "InvalidState")
    xml_error(call(server, "POST", f"processes/{held['executionId']}/recover", 409, headers=XML,
                   params={"setOnline": "true", "updateCredentials": "true"}), "InvalidState")
    error(call(server, "POST", "processes/no-such-execution/recover", 404), "NotFound")
    error(call(server, "POST", f"processes/{held['executionId']}/recover", 400,
               params={"updateCredentials": "2"}), "InvalidParameter")


def test_recover_processes_with_json_and_xml_queries(server):
    mine = unique()
    waiting(server, mine)  # healthy: nothing to recover
    answer = call(server, "POST", "recover", 200, params={"reportExecutionIds": "true", "setOnline": "true"},
                  json=query_json(mine))
    assert answer.json() == {"executionIds": {"count": 0, "executionId": []}}
    root = xml(call(server, "POST", "recover", 200, data=query_xml(mine),
                    headers={"Content-Type": "application/xml", **XML}), "executionIds")
    assert root.get("count") == "0"


def test_recover_processes_errors(server):
    error(call(server, "POST", "recover", 400, data="<query", headers={"Content-Type": "application/xml"}),
          "InvalidQuery")
    error(call(server, "POST", "recover", 400, data='{"query": ', headers={"Content-Type": "application/json"}),
          "InvalidQuery")
    error(call(server, "POST", "recover", 400, params={"setOnline": "nope"}, json=query_json("x")), "InvalidParameter")


def test_a_lost_process_is_recovered(tmp_path):
    """A node dies (kill -9) while running a process; the next node on the database marks it LOST, and
    recoverProcess / POST /recover make it OK again."""
    url, cluster = f"sqlite:///{tmp_path / 'engine.db'}", "lost_after_ms = 600\n"
    first = start_server(tmp_path, url, cluster)
    mine = unique()
    try:
        ids = [spin(first, mine)["executionId"] for _ in range(2)]
    finally:
        for pid in first.workers() + [first.process.pid]:  # children first
            os.kill(pid, signal.SIGKILL)
        first.process.wait(timeout=10)
    second = start_server(tmp_path, url, cluster)
    try:
        deadline = time.monotonic() + 20
        while {s["health"]["state"] for s in found(second, mine)} != {"LOST"} and time.monotonic() < deadline:
            time.sleep(0.2)
        assert {s["health"]["state"] for s in found(second, mine)} == {"LOST"}
        recovered = xml(call(second, "POST", f"processes/{ids[0]}/recover", 200, headers=XML,
                             params={"setOnline": "true", "updateCredentials": "true"}))
        assert recovered.find(pe("health")).get("state") == "OK" and recovered.get("currentUser") == "admin"
        answer = call(second, "POST", "recover", 200, params={"reportExecutionIds": "true"}, json=query_json(mine))
        assert answer.json() == {"executionIds": {"count": 1, "executionId": [ids[1]]}}
        for execution_id in ids:
            kill(second, execution_id)
    finally:
        second.stop()


# -- run ------------------------------------------------------------------------------------------------
def test_get_run_with_in_parameters(server):
    ended = snap(run(server, "echo.ipd", **{"in.in": ["a", "b"], "in.extra": "x,y"}))
    assert ended["state"] == "FINISHED"
    assert entries(ended)["in"] == ["a", "b"] and entries(ended)["extra"] == ["x,y"]
    assert entries(ended)["out"] == ["echo a"]


def test_run_carries_unicode_through_json_and_xml(server):
    mine = f"{unique()}-été"
    ended = snap(run(server, "echo.ipd", externalId=mine, **{"in.in": "Zoë 🎉"}))
    assert ended["externalId"] == mine and entries(ended)["out"] == ["echo Zoë 🎉"]
    root = xml(run(server, "echo.ipd", headers=XML, **{"in.in": "Zoë 🎉"}))
    assert xml_entries(root)["out"] == ["echo Zoë 🎉"]
    held = waiting(server, mine)
    assert [s["executionId"] for s in found(server, mine)] == [held["executionId"]]


def test_get_run_in_xml_in_both_modes(server):
    simple = xml(run(server, "echo.ipd", headers=XML, **{"in.in": "Ada"}))
    assert simple.get("state") == "FINISHED" and xml_entries(simple)["out"] == ["echo Ada"]
    assert simple.find(pe("pipeline")).find(dat("entry")).get("type") == "text/plain"
    standard = xml(run(server, "echo.ipd", headers={**XML, **STANDARD}, **{"in.in": "Bo"}))
    pipeline = standard.find(pe("pipeline"))
    values = {v.get("id"): v.find(dat("content")).text for v in pipeline.find(dat("values")).findall(dat("value"))}
    named = {e.get("name"): [v.text for v in e.findall(dat("value"))]
             for e in pipeline.find(dat("entries")).findall(dat("entry"))}
    assert [values[i] for i in named["out"]] == ["echo Bo"]
    assert pipeline.find(dat("entry")) is None


def test_get_run_in_standard_json(server):
    ended = snap(run(server, "echo.ipd", headers=STANDARD, **{"in.in": "Cy"}))
    pipeline = ended["pipeline"]
    values = {v["id"]: v for v in pipeline["values"]["value"]}
    out = next(e for e in pipeline["entries"]["entry"] if e["name"] == "out")
    assert [values[i]["content"]["value"] for i in out["value"]] == [["echo Cy"]]
    assert values[out["value"][0]]["type"] == "text/plain" and "entry" not in pipeline


@pytest.mark.parametrize("form", FORMS)
def test_post_run_with_a_data_store_body(server, form):
    content_type, body = store_forms("in", "bar")[form]
    answer = call(server, "POST", "run", 200, params={"processUri": "echo.ipd"}, data=body,
                  headers={"Content-Type": content_type})
    assert entries(snap(answer))["out"] == ["echo bar"]


def test_post_run_without_a_body_uses_the_defaults(server):
    assert entries(snap(call(server, "POST", "run", 200, params={"processUri": "echo.ipd"})))["out"] == ["echo nobody"]


def test_post_run_answers_xml(server):
    content_type, body = store_forms("in", "xml")["standard-json"]
    root = xml(call(server, "POST", "run", 200, params={"processUri": "echo.ipd"}, data=body,
                    headers={"Content-Type": content_type, **XML}))
    assert xml_entries(root)["out"] == ["echo xml"]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_run_with_an_idempotency_key_runs_once(server, method):
    mine, key = unique(), unique()
    params = {"processUri": "done.ipd", "externalId": mine, "autoDispose": "never"}
    first = snap(call(server, method, "run", 200, params=params, headers={"Idempotency-Key": key}))
    again = snap(call(server, method, "run", 200, params=params, headers={"Idempotency-Key": key}))
    assert again["executionId"] == first["executionId"] and again["state"] == "FINISHED"
    assert [s["executionId"] for s in found(server, mine)] == [first["executionId"]]


def test_run_options(server):
    mine = unique()
    started = snap(run(server, "hold.ipd", timeout="0", externalId=mine, debug="true", locked="true",
                       autoDispose="never", threadPoolId="default", cache="false"))
    assert started["state"] in ("READY", "RUNNING", "WAITING") and started["debug"] is True
    held = snap(call(server, "GET", f"processes/{started['executionId']}/wait", 200, params={"states": "WAITING"}))
    assert held["state"] == "WAITING" and held["locked"] is True and held["externalId"] == mine
    offline = snap(run(server, "done.ipd", timeout="0", setOnline="false", inspectPipeline="true", peek="true",
                       waitOnline="false"))
    assert offline["executionId"]


def test_a_repeated_run_key_answers_again_after_the_first_answer_disposed_it(server):
    mine, key = unique(), unique()
    params = {"processUri": "echo.ipd", "externalId": mine, "in.in": "once"}
    first = snap(call(server, "GET", "run", 200, params=params, headers={"Idempotency-Key": key}))
    assert first["autoDispose"] == "fetch" and found(server, mine) == []  # fetched, so disposed
    again = snap(call(server, "POST", "run", 200, params={"processUri": "echo.ipd", "externalId": mine},
                      headers={"Idempotency-Key": key}))
    assert again["executionId"] == first["executionId"] and entries(again)["out"] == ["echo once"]
    assert found(server, mine) == []  # no second execution


@pytest.mark.parametrize("mode, kept_finished, kept_failed", [
    ("never", True, True), ("endedNotFailed", False, True), ("endedOrFailed", False, False)])
def test_auto_dispose_modes(server, mode, kept_finished, kept_failed):
    mine = unique()
    finished = snap(run(server, "done.ipd", autoDispose=mode, externalId=mine))
    failed = snap(run(server, "fail.ipd", autoDispose=mode, externalId=mine))
    assert (finished["state"], failed["state"]) == ("FINISHED", "FAILED")  # the synchronous caller saw the end
    assert failed["exceptionReport"]["type"] == "Broken"
    remaining = {s["executionId"] for s in found(server, mine)}
    assert (finished["executionId"] in remaining, failed["executionId"] in remaining) == (kept_finished, kept_failed)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.example+json",
                                          "application/atom+xml", "text/xml; charset=UTF-8"])
def test_post_run_body_media_types_with_parameters_and_suffixes(server, content_type):
    form = "simple-xml" if "xml" in content_type else "simple-json"
    body = store_forms("in", "typed")[form][1]
    answer = call(server, "POST", "run", 200, params={"processUri": "echo.ipd"}, data=body,
                  headers={"Content-Type": content_type})
    assert entries(snap(answer))["out"] == ["echo typed"]


@pytest.mark.parametrize("params, name", [
    ({"peek": "maybe"}, "peek"), ({"inspectPipeline": "yes"}, "inspectPipeline"), ({"timeout": "soon"}, "timeout"),
    ({"timeout": "-5"}, "timeout"), ({"timeout": "1.5"}, "timeout"), ({"states": "SLEEPING"}, "states"),
    ({"states": "WAITING,SLEEPING"}, "states"), ({"autoDispose": "sometimes"}, "autoDispose"),
    ({"debug": "2"}, "debug"), ({"in.": "x"}, "in."),
])
def test_run_refuses_bad_parameters(server, params, name):
    assert name in error(run(server, "done.ipd", 400, **params), "InvalidParameter")


def test_run_errors(server):
    assert "processUri" in error(call(server, "GET", "run", 400), "InvalidParameter")
    error(run(server, "no-such.ipd", 404), "NotFound")
    error(run(server, "../../etc/passwd", 400), "InvalidParameter")
    xml_error(run(server, "no-such.ipd", 404, headers=XML), "NotFound")
    message = error(run(server, "done.ipd", 400, headers={"x-infinica-datastore-mode": "fancy"}), "InvalidParameter")
    assert "x-infinica-datastore-mode" in message


def test_a_bad_datastore_mode_is_reported_in_xml_to_an_xml_client(server):
    xml_error(run(server, "done.ipd", 400, headers={"x-infinica-datastore-mode": "fancy", **XML}), "InvalidParameter")


@pytest.mark.parametrize("body, content_type, status, kind", [
    (b"in=bar", "text/plain", 415, "UnsupportedMediaType"),
    (b"in=bar", "application/x-www-form-urlencoded", 415, "UnsupportedMediaType"),
    (b'{"dataStore": ', "application/json", 400, "InvalidDataStore"),
    (b"<dataStore xmlns='http://www.infinica.com/datastore'>", "application/xml", 400, "InvalidDataStore"),
    (b'<!DOCTYPE d [<!ENTITY e "x">]><dataStore xmlns="http://www.infinica.com/datastore"/>', "application/xml",
     400, "InvalidDataStore"),
    (b'{"dataStore": {"entry": [{"type": "text/plain", "value": ["x"]}]}}', "application/json", 400,
     "InvalidDataStore"),
    (b'{"store": {}}', "application/json", 400, "InvalidDataStore"),
    (b'<dataStore xmlns="urn:other"/>', "text/xml", 400, "InvalidDataStore"),
])
def test_post_run_refuses_bad_bodies(server, body, content_type, status, kind):
    answer = call(server, "POST", "run", status, params={"processUri": "echo.ipd"}, data=body,
                  headers={"Content-Type": content_type})
    error(answer, kind)


def test_a_doctype_is_refused_with_its_position_in_xml(server):
    body = b'<?xml version="1.0"?>\n<!DOCTYPE d SYSTEM "http://example.invalid/d.dtd"><dataStore/>'
    answer = call(server, "POST", "run", 400, params={"processUri": "echo.ipd"}, data=body,
                  headers={"Content-Type": "application/xml", **XML})
    assert "line 2" in xml_error(answer, "InvalidDataStore").get("message")


def test_run_on_an_offline_node_is_503(server):
    call(server, "POST", "setOnline", 204, params={"online": "false", "param": "self"})
    try:
        error(run(server, "done.ipd", 503), "EngineOffline")
        xml_error(call(server, "POST", "run", 503, params={"processUri": "done.ipd"}, headers=XML), "EngineOffline")
    finally:
        call(server, "POST", "setOnline", 204, params={"online": "true", "param": "all"})
    assert snap(run(server, "done.ipd"))["state"] == "FINISHED"


# -- setAttribute -----------------------------------------------------------------------------------------
def test_set_attribute_with_a_text_body(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/attributes"
    assert call(server, "PUT", f"{path}/color", 204, data="blue", headers=TEXT).content == b""
    call(server, "PUT", f"{path}/size", 204, data="L".encode(), headers={"Content-Type": "text/plain; charset=utf-8"})
    assert call(server, "GET", path, 200).json() == {"attributes": {"attribute": [
        {"name": "color", "value": "blue"}, {"name": "size", "value": "L"}]}}


def test_set_attribute_errors(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/attributes/color"
    error(call(server, "PUT", path, 415, data="<v/>", headers={"Content-Type": "application/xml"}),
          "UnsupportedMediaType")
    error(call(server, "PUT", path, 400, json=["blue"]), "InvalidParameter")
    error(call(server, "PUT", "processes/no-such-execution/attributes/color", 404, data="x", headers=TEXT), "NotFound")
    xml_error(call(server, "PUT", "processes/no-such-execution/attributes/c", 404, data="x", headers={**TEXT, **XML}),
              "NotFound")
    error(call(server, "PUT", path, 400, data=b"\xff\xfe", headers=TEXT), "InvalidParameter")


# -- setBreakpoint ----------------------------------------------------------------------------------------
def test_breakpoints_post_and_delete(server):
    created = snap(instantiate(server, processUri="hold.ipd"))
    path = f"processes/{created['executionId']}"
    assert snap(call(server, "POST", f"{path}/breakpoints/root.b", 200))["state"] == "CREATED"
    assert snap(call(server, "POST", f"{path}/start", 200, params={"states": "WAITING,PAUSED"}))["state"] == "WAITING"
    paused = snap(call(server, "POST", f"{path}/start", 200, params={"states": "PAUSED"}))
    assert (paused["state"], paused["currentElement"]) == ("PAUSED", "root.b")
    removed = xml(call(server, "DELETE", f"{path}/breakpoints/root.b", 200, params={"timeout": "-1"}, headers=XML))
    assert removed.get("state") == "PAUSED"
    assert snap(call(server, "POST", f"{path}/start", 200))["state"] == "FINISHED"


def test_breakpoint_errors(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/breakpoints"
    assert "root.nowhere" in error(call(server, "POST", f"{path}/root.nowhere", 404), "NotFound")
    error(call(server, "DELETE", f"{path}/root.nowhere", 404), "NotFound")
    error(call(server, "POST", "processes/no-such-execution/breakpoints/root.b", 404), "NotFound")
    error(call(server, "POST", f"{path}/root.b", 400, params={"timeout": "-2"}), "InvalidParameter")


# -- setInstanceConstants ---------------------------------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_set_instance_constants_in_every_form(server, form):
    held = waiting(server)
    content_type, body = store_forms("rate", "0.5")[form]
    path = f"processes/{held['executionId']}/constants"
    answer = call(server, "POST", path, 200, data=body, headers={"Content-Type": content_type})
    assert snap(answer)["executionId"] == held["executionId"]
    got = call(server, "GET", path, 200).json()
    assert got == {"dataStore": {"entry": [{"name": "rate", "type": "text/plain", "value": ["0.5"]}]}}


def test_set_instance_constants_answers_xml(server):
    held = waiting(server)
    content_type, body = store_forms("k", "v")["simple-xml"]
    root = xml(call(server, "POST", f"processes/{held['executionId']}/constants", 200, data=body,
                    headers={"Content-Type": content_type, **XML, **STANDARD}))
    assert root.get("executionId") == held["executionId"]
    assert root.find(pe("pipeline")).find(dat("values")) is not None  # WAITING: inactive, so the pipeline


def test_set_instance_constants_multi_error(server):
    created = snap(instantiate(server, processUri="streams/fixed.ipd", process=FIXED))
    path = f"processes/{created['executionId']}/constants"
    body = {"dataStore": {"entry": [{"name": "fixed", "type": "text/plain", "value": ["x"]},
                                    {"name": "free", "type": "text/plain", "value": ["y"]}]}}
    answer = call(server, "POST", path, 400, json=body)
    errors = answer.json()["multiErrorResponse"]["errors"]["entry"]
    assert [e["key"] for e in errors] == ["fixed"] and "overridable" in errors[0]["value"]
    assert call(server, "GET", path, 200).json() == {"dataStore": {"entry": []}}  # nothing changed
    root = etree.fromstring(call(server, "POST", path, 400, json=body, headers=XML).content)
    assert root.tag == pe("errors") and [k.text for k in root.iterfind("entry/key")] == ["fixed"]
    assert snap(call(server, "POST", path, 200, json={"dataStore": {"entry": body["dataStore"]["entry"][1]}}))


def test_set_instance_constants_errors(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/constants"
    error(call(server, "POST", path, 400), "InvalidParameter")
    error(call(server, "POST", path, 415, data="rate=1", headers=TEXT), "UnsupportedMediaType")
    error(call(server, "POST", path, 400, json={"dataStore": {"entry": [{"name": ""}]}}), "InvalidDataStore")
    error(call(server, "POST", path, 400, data=b"<dataStore", headers={"Content-Type": "application/xml"}),
          "InvalidDataStore")
    error(call(server, "POST", "processes/no-such-execution/constants", 404, json={"dataStore": {"entry": []}}),
          "NotFound")


# -- setLogSettings ---------------------------------------------------------------------------------------
def test_set_log_settings(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/logSettings"
    params = {"diagnosticLevel": "debug", "dataLevel": "full", "trace": "true"}
    assert snap(call(server, "POST", path, 200, params=params))["executionId"] == held["executionId"]
    assert xml(call(server, "POST", path, 200, params={"trace": "0"}, headers=XML)).get("state") == "WAITING"


@pytest.mark.parametrize("params", [{"diagnosticLevel": "loud"}, {"dataLevel": "all"}, {"trace": "on"}])
def test_set_log_settings_refuses_bad_values(server, params):
    held = waiting(server)
    assert list(params)[0] in error(call(server, "POST", f"processes/{held['executionId']}/logSettings", 400,
                                         params=params), "InvalidParameter")


# -- setOnline ----------------------------------------------------------------------------------------------
def test_set_online_with_a_text_body(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/online"
    assert snap(call(server, "PUT", path, 200, data="false", headers=TEXT))["online"] is False
    root = xml(call(server, "PUT", path, 200, data=" TRUE\n", headers={**TEXT, **XML},
                    params={"timeout": "5000", "waitOnline": "true", "states": "WAITING", "peek": "true"}))
    assert root.get("online") == "true"
    assert snap(call(server, "PUT", path, 200, data="0", headers=TEXT))["online"] is False


def test_an_offline_process_waits_until_set_online(server):
    created = snap(instantiate(server, processUri="done.ipd", autoDispose="never"))
    path = f"processes/{created['executionId']}"
    call(server, "PUT", f"{path}/online", 200, data="false", headers=TEXT)
    held = snap(call(server, "POST", f"{path}/start", 200, params={"timeout": "300", "setOnline": "false"}))
    assert held["state"] == "READY" and held["online"] is False
    call(server, "PUT", f"{path}/online", 200, data="true", headers=TEXT)
    assert snap(call(server, "GET", f"{path}/wait", 200, params={"peek": "true"}))["state"] == "FINISHED"


@pytest.mark.parametrize("start", ["run", "startProcess"])
def test_a_start_that_waits_for_its_end_and_online_state_is_answered_at_its_end(server, start):
    # Not only an end settles it, so a pool thread drives it; under gunicorn the request thread drives
    # what it hands over only after its answer, which must not be what it is waiting for.
    wait = {"states": "FINISHED", "waitOnline": "true", "timeout": "5000", "peek": "true"}
    if start == "run":
        ended = snap(run(server, "done.ipd", **wait))
    else:
        created = snap(instantiate(server, processUri="done.ipd", autoDispose="never"))
        ended = snap(call(server, "POST", f"processes/{created['executionId']}/start", 200, params=wait))
    assert ended["state"] == "FINISHED" and ended["online"] is True


def test_set_online_errors(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/online"
    error(call(server, "PUT", path, 400, data="maybe", headers=TEXT), "InvalidParameter")
    error(call(server, "PUT", path, 400, headers=TEXT), "InvalidParameter")
    error(call(server, "PUT", path, 400, json=3), "InvalidParameter")
    error(call(server, "PUT", path, 415, data="<online>true</online>", headers={"Content-Type": "application/xml"}),
          "UnsupportedMediaType")
    error(call(server, "PUT", path, 400, data="true", headers=TEXT, params={"states": "ASLEEP"}), "InvalidParameter")
    error(call(server, "PUT", "processes/no-such-execution/online", 404, data="true", headers=TEXT), "NotFound")


# -- setOwner / setPermissions / updateCredentials ---------------------------------------------------------
def test_set_owner(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/owner"
    owned = snap(call(server, "PUT", path, 200, data="carol", headers=TEXT))
    assert owned["owner"] == "carol" and owned["currentUser"] == "admin"
    assert xml(call(server, "PUT", path, 200, data="dave", headers={**TEXT, **XML})).get("owner") == "dave"
    error(call(server, "PUT", path, 400, data=" ", headers=TEXT), "InvalidParameter")
    assert snap(call(server, "PUT", path, 200, json="erin"))["owner"] == "erin"
    error(call(server, "PUT", path, 415, data="erin", headers={"Content-Type": "application/xml"}),
          "UnsupportedMediaType")
    error(call(server, "PUT", "processes/no-such-execution/owner", 404, data="x", headers=TEXT), "NotFound")


def test_set_permissions_comma_separated(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/permissions/clerks"
    granted = snap(call(server, "PUT", path, 200, data="read,execute", headers=TEXT))
    assert granted["permissions"] == {"ace": [{"name": "clerks", "privilege": ["execute", "read"]}]}
    root = xml(call(server, "PUT", f"processes/{held['executionId']}/permissions/bob", 200, data="dispose",
                    headers={**TEXT, **XML}))
    aces = {a.get("name"): [p.text for p in a.findall(pe("privilege"))]
            for a in root.find(pe("permissions")).findall(pe("ace"))}
    assert aces == {"bob": ["dispose"], "clerks": ["execute", "read"]}
    cleared = snap(call(server, "PUT", path, 200, data="", headers=TEXT))
    assert cleared["permissions"] == {"ace": [{"name": "bob", "privilege": ["dispose"]}]}


def test_set_permissions_errors(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/permissions/clerks"
    assert "privileges" in error(call(server, "PUT", path, 400, data="read,fly", headers=TEXT), "InvalidParameter")
    assert "privileges" in error(call(server, "PUT", path, 400, json=["read", "fly"]), "InvalidParameter")
    error(call(server, "PUT", path, 415, data="read", headers={"Content-Type": "application/xml"}),
          "UnsupportedMediaType")
    error(call(server, "PUT", "processes/no-such-execution/permissions/x", 404, data="read", headers=TEXT), "NotFound")


def test_update_credentials(server):
    held = waiting(server)
    path = f"processes/{held['executionId']}/updateCredentials"
    assert snap(call(server, "POST", path, 200))["currentUser"] == "admin"
    assert xml(call(server, "POST", path, 200, headers=XML)).get("currentUser") == "admin"
    error(call(server, "POST", "processes/no-such-execution/updateCredentials", 404), "NotFound")


# -- large data stores ------------------------------------------------------------------------------------
def large_store(entries: int = 2_500) -> dict[str, list[str]]:
    """About 2 MB of text, over the size a served worker reads with its small objects on malloc
    (config.allocator): {name: values}, the last entry sharing nothing with the others."""
    return {f"e{n}": [f"value {n} " + "x" * (600 + n % 200), f"second {n} <&> é"] for n in range(entries)}


@pytest.mark.parametrize("body_form, answer_form", [("xml", "json"), ("json", "xml"), ("xml", "xml")])
def test_a_large_data_store_goes_through_run_as_it_came(server, body_form, answer_form):
    store = large_store()
    ids = {name: [f"{name}.{i}" for i in range(len(values))] for name, values in store.items()}
    if body_form == "xml":
        values = "".join(f'<value id="{i}" type="text/plain"><content>{escape(v)}</content></value>'
                         for name in store for i, v in zip(ids[name], store[name]))
        refs = "".join(f'<entry name="{name}">' + "".join(f"<value>{i}</value>" for i in ids[name]) + "</entry>"
                       for name in store)
        body = f'<dataStore xmlns="{DAT}"><values>{values}</values><entries>{refs}</entries></dataStore>'.encode()
    else:
        body = json.dumps({"dataStore": {
            "values": {"value": [{"type": "text/plain", "id": i, "content": {"value": [v]}}
                                 for name in store for i, v in zip(ids[name], store[name])]},
            "entries": {"entry": [{"name": name, "value": ids[name]} for name in store]}}}).encode()
    assert len(body) > 2 << 20
    for _ in range(2):  # the second on a worker that already took one
        answer = call(server, "POST", "run", 200, params={"processUri": "done.ipd"}, data=body, headers={
            **STANDARD, "Content-Type": f"application/{body_form}", "Accept": f"application/{answer_form}"})
        assert pipeline_of(answer, answer_form == "xml", True) == store
        # sent as it was written: in chunks, with no length (a small answer has its length)
        assert answer.headers.get("Transfer-Encoding") == "chunked" and "Content-Length" not in answer.headers
    small = call(server, "POST", "run", 200, params={"processUri": "done.ipd"}, headers={"Accept": f"application/{answer_form}"})
    assert int(small.headers["Content-Length"]) == len(small.content) and "Transfer-Encoding" not in small.headers


def test_a_large_data_store_sent_in_chunks_or_in_the_simple_form_goes_through_run(server):
    store = large_store()
    standard = ("".join(f'<value id="{n}" type="text/plain"><content>{escape(v)}</content></value>'
                        for n, v in enumerate(store["e0"] * 2_000)))
    body = (f'<dataStore xmlns="{DAT}"><values>{standard}</values><entries><entry name="a">'
            + "".join(f"<value>{n}</value>" for n in range(len(store["e0"]) * 2_000)) + "</entry></entries></dataStore>")
    simple = f'<dataStore xmlns="{DAT}">' + "".join(
        f'<entry name="{name}" type="text/plain">' + "".join(f"<value>{escape(v)}</value>" for v in values) + "</entry>"
        for name, values in store.items()) + "</dataStore>"
    spooled = []

    def in_chunks(data: bytes):
        yield data[:1 << 20]
        for _ in range(100):  # the first MB is in a file on the server's side before the rest is sent
            spooled.extend(f.stat().st_size for f in (server.log.parent / "tmp").glob("pe-body-*"))
            if spooled and spooled[-1] >= 1 << 20:
                break
            time.sleep(0.05)
        yield data[1 << 20:]

    for data, expected in ((in_chunks(body.encode()), {"a": store["e0"] * 2_000}), (simple.encode(), store)):
        answer = call(server, "POST", "run", 200, params={"processUri": "done.ipd"}, data=data, headers={
            **STANDARD, "Content-Type": "application/xml", "Accept": "application/json"})
        assert pipeline_of(answer, False, True) == expected
    assert spooled and spooled[-1] >= 1 << 20
    assert not list((server.log.parent / "tmp").glob("pe-body-*"))  # each spooled body's file went with its call


def test_a_large_data_store_with_a_mistake_is_refused_as_a_small_one_is(server):
    messages = []
    for count in (3, 3_000):
        values = "".join(f'<value id="{n}" type="text/plain"><content>{"x" * 500}</content></value>' for n in range(count))
        body = f'<dataStore xmlns="{DAT}"><values>{values}</values><entries><entry name="a"><value>2</value>' \
               f'<value>nope</value></entry></entries></dataStore>'
        messages.append(error(call(server, "POST", "run", 400, params={"processUri": "done.ipd"}, data=body.encode(),
                                   headers={"Content-Type": "application/xml"}), "InvalidDataStore"))
    assert len(body) > 1 << 20 and messages[0] == messages[1] and "'nope'" in messages[1]
    blank = call(server, "POST", "run", 200, params={"processUri": "done.ipd"}, data=b" " * (2 << 20),
                 headers={"Content-Type": "application/xml"})  # as no body: run without parameters
    assert snap(blank)["state"] == "FINISHED"
    assert not list((server.log.parent / "tmp").glob("pe-body-*"))


def test_a_large_body_cut_short_is_refused_and_leaves_no_file(server):
    import socket
    from urllib.parse import urlsplit

    before = call(server, "POST", "processes/count", 200).json()
    address = urlsplit(server.base)
    head = (f"POST {urlsplit(server.url('run')).path}?processUri=done.ipd HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Content-Type: application/xml\r\nContent-Length: {2 << 20}\r\n\r\n")
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(head.encode("latin-1") + b" " * (1 << 20))  # half of it, then the client is gone
        connection.shutdown(socket.SHUT_WR)
        raw = b"".join(iter(lambda: connection.recv(65536), b""))
    assert raw.split(b" ", 2)[1] == b"400" and b"Traceback" not in raw, raw[:300]
    assert call(server, "POST", "processes/count", 200).json() == before
    assert not list((server.log.parent / "tmp").glob("pe-body-*"))


# -- startProcess -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_start_with_a_data_store_body(server, form):
    created = snap(instantiate(server, processUri="echo.ipd"))
    content_type, body = store_forms("in", "Zed")[form]
    ended = snap(call(server, "POST", f"processes/{created['executionId']}/start", 200, data=body,
                      headers={"Content-Type": content_type}))
    assert ended["state"] == "FINISHED" and entries(ended)["out"] == ["echo Zed"]


def test_start_continues_a_waiting_process_in_xml(server):
    held = waiting(server)
    root = xml(call(server, "POST", f"processes/{held['executionId']}/start", 200, headers=XML,
                    params={"inspectPipeline": "true"}))
    assert root.get("state") == "FINISHED" and xml_entries(root)["after"] == ["1!"]


def test_start_with_timeout_zero(server):
    created = snap(instantiate(server, processUri="hold.ipd"))
    path = f"processes/{created['executionId']}"
    started = snap(call(server, "POST", f"{path}/start", 200, params={"states": "WAITING", "timeout": "0"}))
    assert started["state"] in ("READY", "RUNNING", "WAITING") and started["stateChangeIndex"] >= 1
    held = snap(call(server, "GET", f"{path}/wait", 200, params={"states": "WAITING"}))
    assert held["state"] == "WAITING" and held["currentElement"] == "root.hold"


def test_an_asynchronous_start_frees_its_connection_at_once_and_runs_on_to_its_end(server):
    # Issue 15: the thread that answers an asynchronous start drives it once the answer is out, for a
    # moment, then hands it to its pool. count.ipd runs 5 s: the caller's next request on the same
    # keep-alive connection is answered while it runs on, and it ends as computed, every round once.
    with requests.Session() as caller:
        answer = caller.get(server.url("run"), params={"processUri": "count.ipd", "timeout": "0",
                                                       "autoDispose": "never"}, timeout=30)
        started = snap(answer)
        assert started["state"] == "RUNNING"
        asked = time.monotonic()
        again = snap(caller.get(server.url(f"processes/{started['executionId']}"), timeout=30))
        assert time.monotonic() - asked < 3 and again["state"] == "RUNNING"  # not after the process's 5 s
        ended = snap(caller.get(server.url(f"processes/{started['executionId']}/wait"), timeout=60,
                                params={"timeout": "20000", "inspectPipeline": "true"}))
    assert ended["state"] == "FINISHED" and entries(ended)["trail"] == ["x" + "." * 50]


def test_start_errors(server):
    done = snap(run(server, "done.ipd", autoDispose="never"))
    path = f"processes/{done['executionId']}/start"
    assert "FINISHED" in error(call(server, "POST", path, 409), "InvalidState")
    xml_error(call(server, "POST", path, 409, headers=XML), "InvalidState")
    error(call(server, "POST", "processes/no-such-execution/start", 404), "NotFound")
    error(call(server, "POST", path, 400, params={"states": "DONE"}), "InvalidParameter")
    error(call(server, "POST", path, 400, params={"setOnline": "always"}), "InvalidParameter")
    error(call(server, "POST", path, 415, data="in=1", headers=TEXT), "UnsupportedMediaType")
    error(call(server, "POST", path, 400, json={"dataStore": []}), "InvalidDataStore")


# -- terminateProcess -------------------------------------------------------------------------------------
def test_terminate(server):
    held = waiting(server)
    ended = snap(call(server, "POST", f"processes/{held['executionId']}/terminate", 200, params={"message": "stop"}))
    assert (ended["state"], ended["message"], ended["health"]["state"]) == ("TERMINATED", "stop", "OK")
    assert ended["finishedAt"] >= ended["startedAt"]


def test_terminate_with_fail_and_a_message_in_xml(server):
    held = waiting(server)
    root = xml(call(server, "POST", f"processes/{held['executionId']}/terminate", 200, headers=XML,
                    params={"fail": "true", "message": "given up", "stateChangeIndex": held["stateChangeIndex"]}))
    assert root.get("state") == "FAILED" and int(root.get("stateChangeIndex")) > held["stateChangeIndex"]
    assert root.get("message") == "given up"


def test_terminate_with_kill(server):
    running = spin(server)
    killed = snap(call(server, "POST", f"processes/{running['executionId']}/terminate", 200,
                       params={"kill": "1", "setOnline": "true", "inspectPipeline": "true"}))
    assert killed["state"] == "TERMINATED" and killed["health"]["state"] == "KILLED"


def test_terminate_errors(server):
    done = snap(run(server, "done.ipd", autoDispose="never"))
    path = f"processes/{done['executionId']}/terminate"
    error(call(server, "POST", path, 409), "InvalidState")
    error(call(server, "POST", "processes/no-such-execution/terminate", 404), "NotFound")
    error(call(server, "POST", path, 400, params={"kill": "hard"}), "InvalidParameter")
    error(call(server, "POST", path, 400, params={"stateChangeIndex": "three"}), "InvalidParameter")


# -- text that XML cannot carry ----------------------------------------------------------------------------


def _control_in_external_id(server):
    return [server.request("GET", "run", params={"processUri": "done.ipd", "externalId": "a\x01b"}, headers=XML)]


def _control_in_instantiate(server):
    return [server.request("POST", "processes", headers=XML,
                           files={"processUri": (None, "done.ipd"), "externalId": (None, "a\x01b")})]


def _control_in_attribute(server):
    path = f"processes/{waiting(server)['executionId']}/attributes"
    return [server.request("PUT", f"{path}/color", data="a\x01b", headers=TEXT),
            server.request("GET", path, headers=XML)]


def _control_in_owner(server):
    path = f"processes/{waiting(server)['executionId']}"
    return [server.request("PUT", f"{path}/owner", data="bo\x01b", headers=TEXT), server.request("GET", path, headers=XML)]


def _control_in_permission_name(server):
    path = f"processes/{waiting(server)['executionId']}"
    return [server.request("PUT", f"{path}/permissions/x\x01y", data="read", headers=TEXT),
            server.request("GET", path, headers=XML)]


def _control_in_terminate_message(server):
    path = f"processes/{waiting(server)['executionId']}/terminate"
    return [server.request("POST", path, params={"message": "a\x01b"}, headers=XML)]


@pytest.mark.parametrize("requests_of", [_control_in_external_id, _control_in_instantiate, _control_in_attribute,
                                         _control_in_owner, _control_in_permission_name, _control_in_terminate_message])
def test_a_control_character_never_makes_an_xml_answer_fail(server, requests_of):
    for answer in requests_of(server):  # refused at input (400), or carried through to the XML answer
        assert answer.status_code in (200, 204, 400) and "Traceback" not in answer.text, answer.text
        if answer.status_code == 400:
            break


@pytest.mark.parametrize("method, path, kwargs, statuses", [
    ("GET", "run", {"params": {"processUri": "done.ipd", "externalId": "a\x00b"}}, (200, 400)),
    ("DELETE", "processes/a\x00b", {}, (204, 400)),
    ("POST", "processes/a\x00b/start", {}, (400, 404)),
    ("POST", "processes/a\x00b/terminate", {}, (400, 404)),
    ("PUT", "processes/a\x00b/owner", {"data": "x", "headers": TEXT}, (400, 404)),
    ("POST", "processes/a\x00b/recover", {}, (400, 404)),
])
def test_a_nul_character_is_not_a_500(server, request, method, path, kwargs, statuses):
    answer = server.request(method, path, **kwargs)
    assert answer.status_code in statuses and "Traceback" not in answer.text, answer.text


def test_a_nul_owner_is_not_a_500(server, request):
    answer = server.request("PUT", f"processes/{waiting(server)['executionId']}/owner", data="a\x00b", headers=TEXT)
    assert answer.status_code in (200, 400), answer.text


# -- routes and methods -----------------------------------------------------------------------------------
def test_an_unknown_route_is_404(server):
    error(call(server, "GET", "no/such/route", 404), "NotFound")
    xml_error(call(server, "POST", "processes/x/y/z", 404, headers=XML), "NotFound")


@pytest.mark.parametrize("method, path", [
    ("PATCH", "run"), ("PUT", "processes"), ("GET", "processes/x/start"), ("GET", "processes/x/terminate"),
    ("POST", "processes/x/owner"), ("GET", "recover"),
])
def test_a_wrong_method_is_refused(server, method, path):
    answer = server.request(method, path)
    assert answer.status_code in (400, 405) and "Traceback" not in answer.text
    assert answer.json()["type"] == "InvalidParameter"


def test_a_405_names_the_allowed_methods(server):
    answer = call(server, "PATCH", "run", 405)
    assert set(answer.headers.get("Allow", "").replace(" ", "").split(",")) >= {"GET", "POST"}


# -- bodies over server.max_request_bytes -------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_server(tmp_path_factory):
    with sqlite_server(tmp_path_factory, "small", "[server]\nmax_request_bytes = 1024\n") as running:
        yield running


def test_a_body_over_the_limit_is_413(small_server):
    big = json.dumps({"dataStore": {"entry": [{"name": "in", "type": "text/plain", "value": ["x" * 2048]}]}})
    error(call(small_server, "POST", "run", 413, params={"processUri": "echo.ipd"}, data=big,
               headers={"Content-Type": "application/json"}), "PayloadTooLarge")
    xml_error(call(small_server, "POST", "processes", 413, headers=XML,
                   files={"process": ("big.ipd", "<!--" + "x" * 2048 + "-->", "text/xml")}), "PayloadTooLarge")
    small = store_forms("in", "ok")["simple-json"]
    assert entries(snap(call(small_server, "POST", "run", 200, params={"processUri": "echo.ipd"}, data=small[1],
                             headers={"Content-Type": small[0]})))["out"] == ["echo ok"]




def _chunks(head: bytes, total: int):
    yield head
    for _ in range(total // 256):
        yield b"y" * 256


def test_a_chunked_data_store_over_the_limit_is_413(small_server):
    body = _chunks(b'{"dataStore": {"entry": [{"name": "in", "type": "text/plain", "value": ["', 2048)
    error(call(small_server, "POST", "run", 413, params={"processUri": "echo.ipd"}, data=body,
               headers={"Content-Type": "application/json"}), "PayloadTooLarge")


def test_a_chunked_text_body_over_the_limit_is_413_not_truncated(small_server):
    held = waiting(small_server)
    path = f"processes/{held['executionId']}/attributes"
    answer = small_server.request("PUT", f"{path}/big", data=_chunks(b"", 2048), headers=TEXT)
    stored = call(small_server, "GET", path, 200).json()["attributes"]["attribute"]
    assert (answer.status_code, stored) == (413, [])


def test_a_bug_behind_an_operation_is_a_500_with_an_incident_in_the_log(monkeypatch, caplog, tmp_path):
    """CONTRACT §6: a generic message and an incident ID that is in the log; never the exception's text."""
    from config.settings import load_settings
    from config.wsgi import create_application
    from engine import operations

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail")

    settings = load_settings({}).with_overrides(storage={"url": f"sqlite:///{tmp_path / 'bug.db'}"}, services=())
    app = create_application(settings)
    engine = app.extensions["process_engine"].start()
    try:
        monkeypatch.setattr(operations, "version", broken)
        with caplog.at_level("ERROR", logger="process_engine.rest"):
            answer = app.test_client().get("/infinica-process-engine/rest/version")
    finally:
        engine.stop()
    body = answer.get_json()
    assert answer.status_code == 500 and body["type"] == "InternalError" and "secret" not in answer.text
    assert body["message"] == f"internal error (incident {body['incidentId']})"
    assert f"incident {body['incidentId']}" in caplog.text
