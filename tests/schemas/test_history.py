"""The history's answers as both doors write them (schemas/history.py, CONTRACT §12): the XML is valid
against the declarations the published WSDL carries, and the JSON is its simple form (CONTRACT §2) —
repeatables as arrays, numbers as numbers, name/value lists as getAttributes writes them."""
from __future__ import annotations

from datetime import datetime, timezone

from engine.model.datastore import DataStore, make_value
from engine.model.history import (ElementStatistics, ElementVisit, HealthChange, OperationEntry, Outcome,
                                  ProcessHistory, ProcessStatistics)
from schemas.history import HISTORY_STATISTICS, OPERATIONS, PROCESS_HISTORIES, PROCESS_HISTORY
from tests.support.namespaces import dat, pe
from tests.support.soap import result_schema

AT = datetime(2026, 12, 5, 10, 0, 0, 123000, tzinfo=timezone.utc)
LATER = datetime(2026, 12, 5, 10, 0, 1, 456000, tzinfo=timezone.utc)
CALL = OperationEntry(AT, "carol", "setOwner", "execution", "e-1", Outcome.REFUSED, (("owner", "carol"),),
                      "node-a", "carol lacks admin on e-1")
RECORD = ProcessHistory(
    "e-1", "order-4711", "fail.ipd", 2, "alice", None, AT, AT, LATER, 1333, "FAILED", "it broke", "Broken", "root.f",
    ("node-a", "node-b"), (HealthChange(AT, "LOST", "node-b", "node-a vanished"),),
    DataStore([("x", (make_value("v1", "text/plain", "1"),))]),
    (ElementVisit("root.start", AT, AT, "node-a", "completed"),
     ElementVisit("root.f", AT, None, "node-a", "failed", 3)),
    (CALL,))


def test_a_record_with_its_trail_and_calls_fits_its_declaration():
    element = PROCESS_HISTORY.xml(RECORD, options={"simple": False})
    result_schema().assertValid(element)
    assert [child.tag for child in element.find(pe("pipeline"))] == [dat("values"), dat("entries")]  # standard form
    assert [e.get("outcome") for e in element.find(pe("elements"))] == ["completed", "failed"]
    failed = element.find(pe("elements"))[1]
    assert failed.get("iteration") == "3" and "leftAt" not in failed.attrib  # still inside it when it failed
    parameter = element.find(f"{pe('operations')}/{pe('operation')}/{pe('parameters')}/{pe('parameter')}")
    assert (parameter.get("name"), parameter.text) == ("owner", "carol")
    assert [n.text for n in element.find(pe("nodes"))] == ["node-a", "node-b"]
    assert element.find(pe("healthChanges"))[0].attrib == {"at": "2026-12-05T10:00:00.123Z", "health": "LOST",
                                                            "node": "node-b", "message": "node-a vanished"}


def test_a_listed_record_is_the_record_alone():
    listed = PROCESS_HISTORIES.xml([RECORD])
    result_schema().assertValid(listed)
    assert [child.tag for child in listed[0]] == [pe("nodes"), pe("healthChanges"), pe("pipeline")]
    body = PROCESS_HISTORIES.json([RECORD])["processHistories"]["processHistory"][0]
    assert "elements" not in body and "operations" not in body


def test_the_json_form_types_numbers_and_lists():
    body = PROCESS_HISTORY.json(RECORD)["processHistory"]
    assert (body["definitionVersion"], body["durationMs"], body["finishedAt"]) == (2, 1333, "2026-12-05T10:00:01.456Z")
    assert "parentExecutionId" not in body  # absent, not null
    assert body["nodes"] == {"node": ["node-a", "node-b"]}
    assert body["elements"]["element"][1] == {"id": "root.f", "enteredAt": "2026-12-05T10:00:00.123Z",
                                              "node": "node-a", "outcome": "failed", "iteration": 3}
    assert body["operations"]["operation"][0]["parameters"] == {"parameter": [{"name": "owner", "value": "carol"}]}
    empty = PROCESS_HISTORY.json(ProcessHistory(**{**RECORD.__dict__, "elements": (), "operations": ()}))
    assert (empty["processHistory"]["elements"], empty["processHistory"]["operations"]) == (
        {"element": []}, {"operation": []})  # getHistory says "none", not "not asked"


def test_an_operation_log_entry_keeps_who_what_and_how():
    entry = OPERATIONS.json([CALL])["operations"]["operation"][0]
    assert {k: entry[k] for k in ("user", "operation", "targetKind", "target", "outcome", "node", "message")} == {
        "user": "carol", "operation": "setOwner", "targetKind": "execution", "target": "e-1", "outcome": "refused",
        "node": "node-a", "message": "carol lacks admin on e-1"}
    result_schema().assertValid(OPERATIONS.xml([CALL]))


def test_statistics_per_process_and_per_element():
    statistics = ProcessStatistics("fail.ipd", 4, (("FAILED", 1), ("FINISHED", 3)), 0.25, 10, 40, 41,
                                   (ElementStatistics("root.f", 4, 1, 1, 2, 3),))
    element = HISTORY_STATISTICS.xml([statistics])
    result_schema().assertValid(element)
    assert element[0].get("failureRate") == "0.25"
    body = HISTORY_STATISTICS.json([statistics])["historyStatistics"]["processStatistics"][0]
    assert (body["count"], body["failureRate"], body["durationP95Ms"]) == (4, 0.25, 40)
    assert body["endStates"] == {"endState": [{"state": "FAILED", "count": 1}, {"state": "FINISHED", "count": 3}]}
    assert body["elementStatistics"]["element"] == [{"id": "root.f", "count": 4, "failed": 1, "durationP50Ms": 1,
                                                     "durationP95Ms": 2, "durationMaxMs": 3}]
    bare = HISTORY_STATISTICS.json([ProcessStatistics("ok.ipd", 0, (), 0.0, None, None, None)])
    assert bare == {"historyStatistics": {"processStatistics": [
        {"processUri": "ok.ipd", "count": 0, "failureRate": 0.0, "endStates": {"endState": []}}]}}
    assert len(HISTORY_STATISTICS.xml([])) == 0  # no process ended in the window: an empty list, not an error
