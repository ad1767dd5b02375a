"""The "Process Watchers" endpoints over real HTTP (CONTRACT §10): POST /watchers with every expectation,
GET /watchers/{id} and its alias /watcher/{id} with timeout and finish, DELETE answering text/plain.
The request helpers are tests/support/rest.py's."""
from __future__ import annotations

import time

import pytest

from tests.support.namespaces import dat, pe
from tests.support.rest import (MODES, STANDARD, TEXT, XML, call, entries, error, instantiate, pipeline_of, snap,
                                waiting, xml, xml_entries, xml_error)


def watch(server, execution_id: str, status: int = 200, headers: dict | None = None, **params):
    return call(server, "POST", "watchers", status, params={"executionId": execution_id, **params},
                headers=headers or {})


def watcher(answer) -> dict:
    assert answer.headers["Content-Type"].startswith("application/json")
    return answer.json()["processWatcher"]


def get(server, watcher_id: str, prefix: str = "watchers", status: int = 200, headers: dict | None = None,
        **params):
    return call(server, "GET", f"{prefix}/{watcher_id}", status, params=params, headers=headers or {})


# -- createWatcher --------------------------------------------------------------------------------------
def test_a_watcher_finishes_when_its_state_is_reached(server):
    created = snap(instantiate(server, processUri="hold.ipd"))
    opened = watcher(watch(server, created["executionId"], expectedState="WAITING", groupId="g-1"))
    assert opened["finished"] is False and "processExecutionSnapshot" not in opened
    assert (opened["executionId"], opened["groupId"]) == (created["executionId"], "g-1")
    call(server, "POST", f"processes/{created['executionId']}/start", 200, params={"timeout": "0"})
    done = watcher(get(server, opened["id"], timeout="10000"))
    assert done["finished"] is True and done["groupId"] == "g-1"
    captured = done["processExecutionSnapshot"]
    assert (captured["state"], captured["currentElement"]) == ("WAITING", "root.hold")
    assert entries(captured) == {"x": ["1"]}  # inspectPipeline defaults to true


def test_expectations_already_met_finish_at_once_in_xml(server):
    held = waiting(server)
    answer = watch(server, held["executionId"], headers=XML, expectedState="WAITING", expectedOnlineState="true",
                   expectedElement="root.hold", expectedHealthState="OK", inspectPipeline="false")
    root = xml(answer, "processWatcher")
    assert root.get("finished") == "true" and root.get("executionId") == held["executionId"] and root.get("id")
    captured = root.find(pe("processExecutionSnapshot"))
    assert captured.get("state") == "WAITING" and captured.find(pe("pipeline")) is None


def test_expected_states_repeated_or_comma_separated(server):
    held = waiting(server)
    repeated = watcher(watch(server, held["executionId"], expectedState=["FINISHED", "WAITING"]))
    listed = watcher(watch(server, held["executionId"], expectedState="FINISHED,WAITING"))
    assert repeated["finished"] and listed["finished"]
    neither = watcher(watch(server, held["executionId"], expectedState="PAUSED,FINISHED"))
    assert neither["finished"] is False


def test_expected_state_change_index_waits_for_a_newer_change(server):
    held = waiting(server, autoDispose="never")
    opened = watcher(watch(server, held["executionId"], expectedStateChangeIndex=held["stateChangeIndex"]))
    assert watcher(get(server, opened["id"], timeout="200"))["finished"] is False
    call(server, "POST", f"processes/{held['executionId']}/start", 200, params={"timeout": "0"})
    done = watcher(get(server, opened["id"], timeout="10000"))
    assert done["finished"] and done["processExecutionSnapshot"]["stateChangeIndex"] > held["stateChangeIndex"]


def test_expected_online_state(server):
    held = waiting(server)
    opened = watcher(watch(server, held["executionId"], expectedOnlineState="false"))
    assert opened["finished"] is False
    call(server, "PUT", f"processes/{held['executionId']}/online", 200, data="false", headers=TEXT)
    done = watcher(get(server, opened["id"], "watcher", timeout="10000"))
    assert done["processExecutionSnapshot"]["online"] is False


def test_expected_health_state(server):
    held = waiting(server)
    opened = watcher(watch(server, held["executionId"], expectedHealthState="KILLED", peek="true"))
    assert opened["finished"] is False
    call(server, "POST", f"processes/{held['executionId']}/terminate", 200, params={"kill": "true", "peek": "true"})
    done = watcher(get(server, opened["id"], timeout="10000"))
    assert done["processExecutionSnapshot"]["health"]["state"] == "KILLED"


def test_an_end_state_finishes_a_watcher_whose_element_is_never_reached(server):
    held = waiting(server, autoDispose="never")
    opened = watcher(watch(server, held["executionId"], expectedElement="root.a"))
    assert opened["finished"] is False
    call(server, "POST", f"processes/{held['executionId']}/start", 200)
    done = watcher(get(server, opened["id"], timeout="10000"))
    assert done["finished"] and done["processExecutionSnapshot"]["state"] == "FINISHED"


def test_a_peeking_watcher_leaves_the_ended_process(server):
    held = waiting(server)
    opened = watcher(watch(server, held["executionId"], expectedState="FINISHED", peek="true"))
    call(server, "POST", f"processes/{held['executionId']}/start", 200, params={"timeout": "0", "peek": "true"})
    assert watcher(get(server, opened["id"], timeout="10000"))["processExecutionSnapshot"]["state"] == "FINISHED"
    assert snap(call(server, "GET", f"processes/{held['executionId']}", 200, params={"peek": "true"}))


def test_a_fetching_watcher_disposes_the_ended_process(server):
    held = waiting(server)
    opened = watcher(watch(server, held["executionId"], expectedState="FINISHED"))
    call(server, "POST", f"processes/{held['executionId']}/start", 200, params={"timeout": "0", "peek": "true"})
    assert watcher(get(server, opened["id"], timeout="10000"))["processExecutionSnapshot"]["state"] == "FINISHED"
    deadline = time.monotonic() + 5
    while server.request("GET", f"processes/{held['executionId']}", params={"peek": "true"}).status_code != 404:
        assert time.monotonic() < deadline, "the watcher's fetch did not dispose the ended process"
        time.sleep(0.05)


def test_disposing_the_process_finishes_its_watcher_with_the_last_snapshot(server):
    held = waiting(server)
    opened = watcher(watch(server, held["executionId"], expectedState="FINISHED"))
    call(server, "DELETE", f"processes/{held['executionId']}", 200)
    done = watcher(get(server, opened["id"], timeout="10000"))
    assert done["finished"] and done["processExecutionSnapshot"]["state"] == "WAITING"


@pytest.mark.parametrize("params, name", [
    ({"expectedState": "ASLEEP"}, "expectedState"), ({"expectedState": "WAITING,ASLEEP"}, "expectedState"),
    ({"expectedHealthState": "SICK"}, "expectedHealthState"), ({"expectedOnlineState": "offline"}, "expectedOnlineState"),
    ({"expectedStateChangeIndex": "next"}, "expectedStateChangeIndex"), ({"peek": "perhaps"}, "peek"),
    ({"inspectPipeline": "2"}, "inspectPipeline"),
])
def test_create_watcher_refuses_bad_parameters(server, params, name):
    held = waiting(server)
    assert name in error(watch(server, held["executionId"], 400, **params), "InvalidParameter")


def test_create_watcher_errors(server):
    assert "executionId" in error(call(server, "POST", "watchers", 400), "InvalidParameter")
    error(watch(server, "no-such-execution", 404), "NotFound")
    xml_error(watch(server, "no-such-execution", 404, headers=XML), "NotFound")
    held = waiting(server)
    assert "root.nowhere" in error(watch(server, held["executionId"], 404, expectedElement="root.nowhere"), "NotFound")


# -- getWatcher -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("prefix", ["watchers", "watcher"])
def test_get_watcher_with_finish_captures_the_state_after_the_timeout(server, prefix):
    held = waiting(server)
    opened = watcher(watch(server, held["executionId"], expectedState="FINISHED"))
    still = watcher(get(server, opened["id"], prefix, timeout="0"))
    assert still == {"id": opened["id"], "executionId": held["executionId"], "finished": False}
    started = time.monotonic()
    done = watcher(get(server, opened["id"], prefix, timeout="300", finish="true"))
    assert time.monotonic() - started >= 0.3
    assert done["finished"] and done["processExecutionSnapshot"]["state"] == "WAITING"
    assert watcher(get(server, opened["id"], prefix))["finished"] is True


def test_get_watcher_in_xml_and_standard_mode(server):
    held = waiting(server)
    opened = watcher(watch(server, held["executionId"], expectedState="WAITING"))
    root = xml(get(server, opened["id"], "watcher", headers=XML), "processWatcher")
    captured = root.find(pe("processExecutionSnapshot"))
    assert captured.get("executionId") == held["executionId"] and xml_entries(captured) == {"x": ["1"]}
    standard = xml(get(server, opened["id"], headers={**XML, **STANDARD}), "processWatcher")
    pipeline = standard.find(pe("processExecutionSnapshot")).find(pe("pipeline"))
    assert [child.tag for child in pipeline] == [dat("values"), dat("entries")]
    as_json = watcher(get(server, opened["id"], headers=STANDARD))["processExecutionSnapshot"]["pipeline"]
    assert set(as_json) == {"values", "entries"}


@pytest.mark.parametrize("as_xml, standard", MODES)
def test_watcher_answers_in_both_formats_and_modes(server, as_xml, standard):
    held = waiting(server)
    headers = {**(XML if as_xml else {}), **(STANDARD if standard else {})}
    created = watch(server, held["executionId"], headers=headers, expectedState="WAITING")
    assert pipeline_of(created, as_xml, standard, "processWatcher", nested=True) == {"x": ["1"]}
    watcher_id = xml(created, "processWatcher").get("id") if as_xml else watcher(created)["id"]
    for prefix in ("watchers", "watcher"):
        got = get(server, watcher_id, prefix, headers=headers, timeout="1000")
        assert pipeline_of(got, as_xml, standard, "processWatcher", nested=True) == {"x": ["1"]}


def test_get_watcher_waits_no_longer_than_its_timeout(server):
    held = waiting(server)
    opened = watcher(watch(server, held["executionId"], expectedState="FINISHED"))
    started = time.monotonic()
    assert watcher(get(server, opened["id"], timeout="300", updateTimeout="5"))["finished"] is False
    assert 0.3 <= time.monotonic() - started < 10


@pytest.mark.parametrize("params", [{"timeout": "-7"}, {"timeout": "soon"}, {"finish": "please"},
                                    {"updateTimeout": "x"}])
def test_get_watcher_refuses_bad_parameters(server, params):
    held = waiting(server)
    opened = watcher(watch(server, held["executionId"]))
    assert list(params)[0] in error(get(server, opened["id"], status=400, **params), "InvalidParameter")


@pytest.mark.parametrize("prefix", ["watchers", "watcher"])
def test_get_an_unknown_watcher(server, prefix):
    error(get(server, "no-such-watcher", prefix, 404), "NotFound")
    xml_error(get(server, "no-such-watcher", prefix, 404, headers=XML), "NotFound")


# -- deleteWatcher --------------------------------------------------------------------------------------
@pytest.mark.parametrize("first, second", [("watchers", "watcher"), ("watcher", "watchers")])
def test_delete_watcher_answers_true_then_false(server, first, second):
    held = waiting(server)
    opened = watcher(watch(server, held["executionId"], expectedState="FINISHED"))
    deleted = call(server, "DELETE", f"{first}/{opened['id']}", 200)
    assert deleted.headers["Content-Type"].startswith("text/plain") and deleted.text == "true"
    again = call(server, "DELETE", f"{second}/{opened['id']}", 200, headers=XML)
    assert again.headers["Content-Type"].startswith("text/plain") and again.text == "false"
    error(get(server, opened["id"], status=404), "NotFound")


def test_deleting_a_watcher_someone_waits_on_ends_the_wait(server):
    """A GET waiting on a watcher that is deleted meanwhile answers 404 rather than hanging."""
    import threading

    held = waiting(server)
    opened = watcher(watch(server, held["executionId"], expectedState="FINISHED"))
    answers = []
    waiter = threading.Thread(target=lambda: answers.append(server.request(
        "GET", f"watchers/{opened['id']}", params={"timeout": "15000"}, timeout=60)))
    started = time.monotonic()
    waiter.start()
    time.sleep(0.3)
    assert call(server, "DELETE", f"watchers/{opened['id']}", 200).text == "true"
    waiter.join(30)
    assert answers and answers[0].status_code in (200, 404) and time.monotonic() - started < 10
    assert "Traceback" not in answers[0].text


@pytest.mark.parametrize("method, path", [("PUT", "watchers/x"), ("GET", "watchers"), ("POST", "watcher/x"),
                                          ("DELETE", "watchers")])
def test_a_wrong_method_on_watchers(server, method, path):
    answer = server.request(method, path)
    assert answer.status_code in (400, 405) and answer.json()["type"] == "InvalidParameter"


@pytest.mark.parametrize("method, path, params, statuses", [
    ("POST", "watchers", {"executionId": "a\x00b"}, (400, 404)),
    ("GET", "watchers/a\x00b", {}, (400, 404)),
    ("GET", "watcher/a\x00b", {}, (400, 404)),
    ("DELETE", "watchers/a\x00b", {}, (200, 400)),
])
def test_a_nul_in_an_id_is_not_a_500(server, request, method, path, params, statuses):
    answer = server.request(method, path, params=params)
    assert answer.status_code in statuses and "Traceback" not in answer.text, answer.text


def test_a_nul_in_a_group_id_is_not_a_500(server, request):
    held = waiting(server)
    answer = server.request("POST", "watchers", params={"executionId": held["executionId"], "groupId": "a\x00b"})
    assert answer.status_code in (200, 400) and "Traceback" not in answer.text, answer.text


def test_a_control_character_in_a_group_id_is_not_a_500_in_xml(server):
    held = waiting(server)
    answer = server.request("POST", "watchers", params={"executionId": held["executionId"], "groupId": "a\x01b"},
                            headers=XML)
    assert answer.status_code in (200, 400) and "Traceback" not in answer.text, answer.text
