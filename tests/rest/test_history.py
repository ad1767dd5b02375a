"""The history over REST (CONTRACT §12) against a real server, SQLite and PostgreSQL: a process's record
read back after the process is gone (its trail, the calls made on it, its end pipeline), queries over the
records and the operation log with their totals, the exact count, statistics in a window — JSON and XML
— and what a caller who is no administrator may see. The request helpers are tests/support/rest.py's."""
from __future__ import annotations

from datetime import datetime

import pytest

from tests.support.common import param, where
from tests.support.namespaces import DAT, Q, pe
from tests.support.rest import (MODES, XML, call, error, pipeline_of, run, snap, store_entries, waiting, xml,
                                xml_error)
from tests.support.server import basic, unique
from tests.support.soap import store_xml

# The module's server keeps everything the history can (each element a process passed, its end pipeline),
# and counts a list's total exactly up to 3 matches only, so that a test can go past the limit.
SERVER_SETTINGS = '[history]\nlevel = "full"\n[query]\ncount_limit = 3\n'


def newest_first(field: str) -> dict:
    return {"criterion": [{"field": field, "ascending": False}]}


def records(answer) -> list[dict]:
    return answer.json()["processHistories"]["processHistory"]


def entries(answer) -> list[dict]:
    return answer.json()["operations"]["operation"]


def millis(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


# -- getHistory -----------------------------------------------------------------------------------------
def test_a_process_disposed_by_its_run_is_read_back_from_its_record(server):
    external = unique()
    ended = snap(run(server, "fail.ipd", externalId=external))  # autoDispose fetch: this answer disposed it
    execution = ended["executionId"]
    error(call(server, "GET", f"processes/{execution}", 404), "NotFound")

    got = call(server, "GET", f"history/processes/{execution}", 200).json()["processHistory"]
    assert {k: got.get(k) for k in ("executionId", "externalId", "processUri", "owner", "endState", "message",
                                    "exceptionType", "exceptionSource", "parentExecutionId")} == {
        "executionId": execution, "externalId": external, "processUri": "fail.ipd", "owner": "admin",
        "endState": "FAILED", "message": "it broke", "exceptionType": "Broken", "exceptionSource": "root.f",
        "parentExecutionId": None}
    assert (got["createdAt"], got["startedAt"], got["finishedAt"]) == (
        ended["createdAt"], ended["startedAt"], ended["finishedAt"])
    assert got["durationMs"] == millis(got["finishedAt"]) - millis(got["startedAt"])
    assert got["definitionVersion"] == ended["definitionInfo"]["version"]
    assert got["nodes"] == {"node": [ended["processEngineId"]]}
    assert [(e["id"], e["outcome"]) for e in got["elements"]["element"]] == [("root.start", "completed"),
                                                                            ("root.f", "failed")]
    trail = got["elements"]["element"]
    assert all(e["node"] == ended["processEngineId"] and e["enteredAt"] <= e["leftAt"] for e in trail)
    (the_run,) = got["operations"]["operation"]
    assert (the_run["operation"], the_run["user"], the_run["targetKind"], the_run["target"], the_run["outcome"]) == (
        "run", "admin", "execution", execution, "ok")
    assert {"fail.ipd", external} <= {p["value"] for p in the_run["parameters"]["parameter"]}


@pytest.mark.parametrize("as_xml, standard", MODES)
def test_a_record_keeps_the_end_pipeline_in_the_form_asked_for(server, as_xml, standard):
    execution = snap(run(server, "echo.ipd", **{"in.in": "Zed"}))["executionId"]
    headers = {**(XML if as_xml else {}), "x-infinica-datastore-mode": "standard" if standard else "simple"}
    answer = call(server, "GET", f"history/processes/{execution}", 200, headers=headers)
    assert pipeline_of(answer, as_xml, standard, root="processHistory") == {"in": ["Zed"], "out": ["echo Zed"]}
    # and, level full, the entry the assign left, alone, in the same form
    if as_xml:
        start, assign = xml(answer, "processHistory").find(pe("elements"))
        data = start.find(pe("data")), assign.find(pe("data"))
    else:
        start, assign = answer.json()["processHistory"]["elements"]["element"]
        data = start.get("data"), assign.get("data")
    assert data[0] is None and store_entries(data[1], standard) == {"out": ["echo Zed"]}


def test_a_record_in_xml(server):
    execution = snap(run(server, "echo.ipd", externalId=unique()))["executionId"]
    root = xml(call(server, "GET", f"history/processes/{execution}", 200, headers=XML), "processHistory")
    assert (root.get("executionId"), root.get("endState"), root.get("processUri")) == (execution, "FINISHED",
                                                                                       "echo.ipd")
    assert int(root.get("durationMs")) >= 0 and root.get("finishedAt").endswith("Z")
    assert [child.tag for child in root] == [pe("nodes"), pe("pipeline"), pe("elements"), pe("operations")]
    assert [e.get("id") for e in root.find(pe("elements"))] == ["root.start", "root.a"]
    (operation,) = root.find(pe("operations"))
    assert (operation.get("operation"), operation.get("outcome")) == ("run", "ok")
    assert "echo.ipd" in [p.text for p in operation.find(pe("parameters")).findall(pe("parameter"))]


def test_an_unknown_record_is_not_found(server):
    assert "no-such-execution" in error(call(server, "GET", "history/processes/no-such-execution", 404), "NotFound")
    xml_error(call(server, "GET", "history/processes/no-such-execution", 404, headers=XML), "NotFound")


# -- findHistory and countHistory -------------------------------------------------------------------------
def test_find_history_by_the_records_fields_in_json_and_xml_with_the_total(server):
    external = unique()
    for _ in range(3):
        run(server, "echo.ipd", externalId=external)
    failed = snap(run(server, "fail.ipd", externalId=external))["executionId"]
    mine = param("externalId", "equals", external)

    path = "history/processes/query"
    answer = call(server, "POST", path, 200, json=where(mine, param("endState", "equals", "FAILED")))
    assert [r["executionId"] for r in records(answer)] == [failed] and answer.headers["X-Total-Count"] == "1"
    assert "X-Total-Count-Relation" not in answer.headers
    by_alias = call(server, "POST", path, 200, json=where(mine, param("state", "equals", "FAILED")))
    assert records(by_alias) == records(answer)  # `state` is the engine's other name for endState

    page = call(server, "POST", path, 200, json=where(mine, sort=newest_first("finishedAt"), limit=2))
    assert len(records(page)) == 2  # 4 match: past query.count_limit, the total is that limit, a lower bound
    assert (page.headers["X-Total-Count"], page.headers["X-Total-Count-Relation"]) == ("3", "gte")
    finished = [r["finishedAt"] for r in records(page)]
    assert finished == sorted(finished, reverse=True)
    assert all("elements" not in r and "operations" not in r for r in records(page))  # the records alone

    body = (f'<query xmlns="{Q}" xmlns:dat="{DAT}"><and>'
            f'<param field="externalId" operation="equals"><values><dat:value>{external}</dat:value></values></param>'
            '<param field="durationMs" operation="greaterThan"><values><dat:value>-1</dat:value></values></param>'
            '</and></query>')
    answer = call(server, "POST", path, 200, data=body, headers={**XML, "Content-Type": "application/xml"})
    listed = xml(answer, "processHistories")
    assert len(listed) == 4 and answer.headers["X-Total-Count-Relation"] == "gte"
    assert {r.get("processUri") for r in listed.findall(pe("processHistory"))} == {"echo.ipd", "fail.ipd"}


def test_count_history_is_exact_past_the_count_limit_and_ignores_paging(server):
    external = unique()
    for _ in range(5):
        run(server, "done.ipd", externalId=external)
    body = where(param("externalId", "equals", external), limit=1)
    assert call(server, "POST", "history/processes/count", 200, json=body).json() == {"count": 5}
    assert xml(call(server, "POST", "history/processes/count", 200, json=body, headers=XML), "count").text == "5"
    listed = call(server, "POST", "history/processes/query", 200, json=body)
    assert (listed.headers["X-Total-Count"], listed.headers["X-Total-Count-Relation"]) == ("3", "gte")
    assert call(server, "POST", "history/processes/count", 200).json()["count"] >= 5  # no query: every record


# -- findOperations -----------------------------------------------------------------------------------------
def test_the_operation_log_shows_the_calls_on_a_process_and_the_one_that_failed(server):
    execution = waiting(server, unique(), autoDispose="never")["executionId"]
    call(server, "POST", f"processes/{execution}/terminate", 200, params={"kill": "true"})
    call(server, "POST", f"processes/{execution}/terminate", 409)  # an ended process: InvalidState

    answer = call(server, "POST", "history/operations/query", 200, json=where(param("target", "equals", execution)))
    assert [(e["operation"], e["outcome"]) for e in entries(answer)] == [
        ("run", "ok"), ("terminateProcess", "ok"), ("terminateProcess", "failed")]
    assert answer.headers["X-Total-Count"] == "3"
    failed = entries(answer)[2]
    assert failed["message"] and failed["user"] == "admin" and failed["at"] >= entries(answer)[1]["at"]
    assert "kill" in {p["name"] for p in entries(answer)[1]["parameters"]["parameter"]}

    only = where(param("target", "equals", execution), param("outcome", "equals", "failed"))
    root = xml(call(server, "POST", "history/operations/query", 200, json=only, headers=XML), "operations")
    assert [(e.get("operation"), e.get("target")) for e in root] == [("terminateProcess", execution)]


def test_the_fetch_that_disposed_a_process_is_in_its_history(server):
    execution = waiting(server, unique(), peek="true")["executionId"]  # autoDispose fetch
    call(server, "GET", f"processes/{execution}", 200)  # still waiting: a read, not logged
    call(server, "POST", f"processes/{execution}/terminate", 200, params={"kill": "true", "peek": "true"})
    call(server, "GET", f"processes/{execution}", 200, params={"inspectPipeline": "true"})  # ended: disposed by it
    call(server, "GET", f"processes/{execution}", 404)

    calls = call(server, "GET", f"history/processes/{execution}", 200).json()["processHistory"]["operations"]
    assert [(c["operation"], c["user"], c["outcome"]) for c in calls["operation"]] == [
        ("run", "admin", "ok"), ("terminateProcess", "admin", "ok"), ("getProcessSnapshot", "admin", "ok")]
    assert ("inspectPipeline", "true") in {(p["name"], p["value"]) for p in calls["operation"][2]["parameters"][
        "parameter"]}


def test_the_operation_log_keeps_no_data_store_content(server):
    """CONTRACT §12: a call's parameters, never its content: a data store given as query parameters or as
    a body, and constants, are not in the log, while the calls are."""
    external, secret = unique(), f"content-{unique()}"
    run(server, "echo.ipd", externalId=external, autoDispose="never", **{"in.in": secret})
    call(server, "POST", "run", 200, params={"processUri": "echo.ipd", "externalId": external, "autoDispose": "never"},
         data=store_xml(**{"in": secret}), headers={"Content-Type": "application/xml"})
    held = waiting(server, external, autoDispose="never")["executionId"]
    call(server, "POST", f"processes/{held}/constants", 200, data=store_xml(limit=secret),
         headers={"Content-Type": "application/xml"})

    mine = where(param("operation", "in", "run", "setInstanceConstants"), limit=1000)
    answer = call(server, "POST", "history/operations/query", 200, json=mine)
    ours = [e for e in entries(answer) if external in {p["value"] for p in e["parameters"].get("parameter", [])}
            or e.get("target") == held]
    assert [e["operation"] for e in ours] == ["run", "run", "run", "setInstanceConstants"]
    assert secret not in answer.text
    assert secret not in call(server, "POST", "history/operations/query", 200, json=mine, headers=XML).text


# -- getHistoryStatistics ------------------------------------------------------------------------------------
def test_statistics_count_each_process_in_the_window(server):
    first = snap(run(server, "echo.ipd"))
    for _ in range(2):
        run(server, "echo.ipd")
    run(server, "fail.ipd")
    since = {"from": first["createdAt"]}  # what this test ran, and nothing earlier

    got = call(server, "GET", "history/statistics", 200, params=since).json()["historyStatistics"]
    by_uri = {s["processUri"]: s for s in got["processStatistics"]}
    assert set(by_uri) == {"echo.ipd", "fail.ipd"}
    echo, failing = by_uri["echo.ipd"], by_uri["fail.ipd"]
    assert (echo["count"], echo["failureRate"], echo["endStates"]) == (3, 0.0, {"endState": [
        {"state": "FINISHED", "count": 3}]})
    assert (failing["count"], failing["failureRate"], failing["endStates"]["endState"]) == (
        1, 1.0, [{"state": "FAILED", "count": 1}])
    assert 0 <= echo["durationP50Ms"] <= echo["durationP95Ms"] <= echo["durationMaxMs"]
    assert {(e["id"], e["count"], e["failed"]) for e in failing["elementStatistics"]["element"]} == {
        ("root.start", 1, 0), ("root.f", 1, 1)}

    window = {**since, "to": "2999-01-01T00:00:00.000Z", "processUri": "fail.ipd"}
    only = call(server, "GET", "history/statistics", 200, params=window, headers=XML)
    assert [(s.get("processUri"), s.get("count")) for s in xml(only, "historyStatistics")] == [("fail.ipd", "1")]

    def echoes(window: dict[str, str]) -> int:
        listed = call(server, "GET", "history/statistics", 200, params={"processUri": "echo.ipd", **window}).json()
        return sum(s["count"] for s in listed["historyStatistics"]["processStatistics"])
    ever = {"from": "2000-01-01T00:00:00Z"}
    assert echoes(ever) - echoes({**ever, "to": first["createdAt"]}) == 3  # [from, to): these three ended after `to`
    after = call(server, "GET", "history/statistics", 200, params={"from": "2999-01-01T00:00:00Z"}).json()
    assert after == {"historyStatistics": {"processStatistics": []}}


# -- bad input ---------------------------------------------------------------------------------------------
BAD = [
    ("POST", "history/processes/query", {"json": where(param("health", "equals", "OK"))}, "InvalidQuery",
     "query.param.field: Must be one of: executionId, externalId, processUri"),  # a live process's field
    ("POST", "history/processes/query", {
        "data": f'<query xmlns="{Q}"><param field="health" operation="isNull"/></query>',
        "headers": {"Content-Type": "application/xml"}}, "InvalidQuery", "The value 'health' is not one of"),
    ("POST", "history/processes/count", {"json": {"query": {"sort": {"criterion": {"field": "health"}}}}},
     "InvalidQuery", "query.sort.criterion.field"),
    ("POST", "history/processes/query", {"json": where(param("durationMs", "greaterThan", "fast"))}, "InvalidQuery",
     "durationMs"),
    ("POST", "history/processes/query", {"json": where(param("endState", "equals", "DONE"))}, "InvalidQuery",
     "'DONE'"),
    ("POST", "history/operations/query", {"json": where(param("endState", "equals", "FAILED"))}, "InvalidQuery",
     "Must be one of: at, user, operation"),
    ("POST", "processes/query", {"json": where(param("endState", "equals", "FAILED"))}, "InvalidQuery",
     "Must be one of: executionId"),  # findExecutions refuses the records' fields, as before
    ("GET", "history/statistics", {"params": {"from": "yesterday"}}, "InvalidParameter", "from: 'yesterday'"),
    ("GET", "history/statistics", {"params": {"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}},
     "InvalidParameter", "to: "),
]


@pytest.mark.parametrize("method, path, kwargs, kind, words", BAD,
                         ids=["unknown-field", "unknown-field-xml", "unknown-sort-field", "not-a-number",
                              "not-an-end-state", "log-field", "find-executions", "bad-from", "window"])
def test_bad_input_is_a_400_that_names_the_problem(server, method, path, kwargs, kind, words):
    assert words in error(call(server, method, path, 400, **kwargs), kind)


# -- who sees what (the `secured` server: root is admin, clerk is not) ------------------------------------------
def test_a_user_sees_the_records_of_processes_they_may_read_and_their_own_calls(secured):
    root, clerk = basic("root"), basic("clerk")
    external = unique()
    theirs = snap(call(secured, "GET", "run", 200, headers=root, params={
        "processUri": "hold.ipd", "states": "WAITING", "externalId": external, "autoDispose": "never"}))
    mine = snap(call(secured, "GET", "run", 200, headers=clerk, params={"processUri": "done.ipd",
                                                                         "externalId": external}))
    refused = call(secured, "PUT", f"processes/{theirs['executionId']}/owner", 403, data="clerk",
                   headers={**clerk, "Content-Type": "text/plain"})
    assert refused.json()["type"] == "AuthorizationException"
    call(secured, "POST", f"processes/{theirs['executionId']}/terminate", 200, params={"kill": "true"}, headers=root)
    ours = where(param("externalId", "equals", external))

    seen = {who: [r["executionId"] for r in records(call(secured, "POST", "history/processes/query", 200, json=ours,
                                                         headers=headers))] for who, headers in (("root", root),
                                                                                                  ("clerk", clerk))}
    assert seen["clerk"] == [mine["executionId"]]
    assert sorted(seen["root"]) == sorted([mine["executionId"], theirs["executionId"]])
    assert call(secured, "POST", "history/processes/count", 200, json=ours, headers=clerk).json() == {"count": 1}
    error(call(secured, "GET", f"history/processes/{theirs['executionId']}", 404, headers=clerk), "NotFound")
    assert call(secured, "GET", f"history/processes/{mine['executionId']}", 200, headers=clerk).json()[
        "processHistory"]["owner"] == "clerk"

    about = where(param("target", "in", mine["executionId"], theirs["executionId"]))
    calls = {who: [(e["user"], e["operation"], e["outcome"]) for e in entries(call(
        secured, "POST", "history/operations/query", 200, json=about, headers=headers))]
        for who, headers in (("root", root), ("clerk", clerk))}
    assert sorted(calls["clerk"]) == [("clerk", "run", "ok"), ("clerk", "setOwner", "refused")]
    assert sorted(calls["root"]) == [("clerk", "run", "ok"), ("clerk", "setOwner", "refused"), ("root", "run", "ok"),
                                     ("root", "terminateProcess", "ok")]

    window = {"from": theirs["createdAt"], "processUri": "hold.ipd"}
    assert call(secured, "GET", "history/statistics", 200, params=window, headers=clerk).json() == {
        "historyStatistics": {"processStatistics": []}}
    (counted,) = call(secured, "GET", "history/statistics", 200, params=window, headers=root).json()[
        "historyStatistics"]["processStatistics"]
    assert (counted["processUri"], counted["endStates"]["endState"]) == ("hold.ipd", [{"state": "TERMINATED",
                                                                                      "count": 1}])
