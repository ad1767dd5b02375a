"""The history over SOAP (CONTRACT §12) through zeep on the served WSDL, SQLite and PostgreSQL: the same
engine calls as REST's, answering the same elements — a record read back after its process is gone,
queries over the records (q:HistoryQuery) and the operation log (q:OperationLogQuery) with totalCount,
countHistory's `count`, statistics in a window — the Client faults of bad input, and what a caller who is
no administrator may see."""
from __future__ import annotations

import requests
from lxml import etree

from tests.support.common import param
from tests.support.namespaces import Q, dat, pe
from tests.support.server import USERS, unique
from tests.support.soap import ENV, XML, Soap, entries, envelope, fault_type, store, tree

# The module's server keeps everything the history can (each element a process passed, its end pipeline),
# and counts a list's total exactly up to 3 matches only, so that a test can go past the limit.
SERVER_SETTINGS = '[history]\nlevel = "full"\n[query]\ncount_limit = 3\n'


def rest_xml(server, path: str, **headers: str) -> etree._Element:
    answer = server.request("GET", path, headers={"Accept": "application/xml", **headers})
    assert answer.status_code == 200, answer.text
    return etree.fromstring(answer.content)


def raw_fault(server, operation: str, body: str) -> etree._Element:
    """The `<error>` of a request written by hand (what zeep would refuse to write), after checking that it
    is a Client fault whose faultstring is the error's message."""
    answer = requests.post(server.root("soap"), data=envelope(operation, body), headers=XML, timeout=60)
    assert answer.status_code == 500 and b"Traceback" not in answer.content, answer.content
    fault = etree.fromstring(answer.content).find(f"{{{ENV}}}Body/{{{ENV}}}Fault")
    assert fault.findtext("faultcode").endswith(":Client"), answer.content
    error = fault.find(f"detail/{pe('error')}")
    assert error.get("message") == fault.findtext("faultstring")
    return error


def test_a_disposed_run_is_read_back_as_rest_reads_it(soap, server):
    external = unique()
    ended = soap.result("run", processUri="fail.ipd", externalId=external)  # autoDispose fetch: disposed now
    execution = ended.get("executionId")
    assert fault_type(soap.fault("getProcessSnapshot", executionId=execution)) == "NotFound"

    record = soap.result("getHistory", executionId=execution)
    assert record.tag == pe("processHistory")
    assert {k: record.get(k) for k in ("executionId", "externalId", "processUri", "endState", "exceptionType",
                                       "exceptionSource", "message", "finishedAt")} == {
        "executionId": execution, "externalId": external, "processUri": "fail.ipd", "endState": "FAILED",
        "exceptionType": "Broken", "exceptionSource": "root.f", "message": "it broke",
        "finishedAt": ended.get("finishedAt")}
    assert [(e.get("id"), e.get("outcome")) for e in record.find(pe("elements"))] == [("root.start", "completed"),
                                                                                    ("root.f", "failed")]
    assert [(o.get("operation"), o.get("outcome")) for o in record.find(pe("operations"))] == [("run", "ok")]
    assert tree(record) == tree(rest_xml(server, f"history/processes/{execution}"))


def test_the_end_pipeline_comes_in_the_form_simple_data_store_asks_for(soap, server):
    execution = soap.result("run", processUri="echo.ipd", processParams={
        "entry": [{"name": "in", "type": "text/plain", "value": ["Zed"]}]}).get("executionId")
    for simple, mode in ((True, "simple"), (False, "standard")):
        record = soap.result("getHistory", executionId=execution, simpleDataStore=simple)
        assert entries(record.find(pe("pipeline"))) == {"in": ["Zed"], "out": ["echo Zed"]}
        assert (record.find(pe("pipeline"))[0].tag == dat("entry")) is simple  # else values, then entries
        assign = record.find(pe("elements"))[1]  # level full: the entry it left, alone, in the same form
        assert assign.get("id") == "root.a" and entries(assign.find(pe("data"))) == {"out": ["echo Zed"]}
        assert tree(record) == tree(rest_xml(server, f"history/processes/{execution}",
                                             **{"x-infinica-datastore-mode": mode}))


def test_find_history_and_count_history_by_the_records_fields(soap):
    external = unique()
    for _ in range(3):
        soap.result("run", processUri="echo.ipd", externalId=external)
    failed = soap.result("run", processUri="fail.ipd", externalId=external).get("executionId")
    mine = param("externalId", "equals", external)

    wrapper = soap.call("findHistory", query={"and": {"param": [mine, param("endState", "equals", "FAILED")]}})
    assert [r.get("executionId") for r in wrapper.find(pe("processHistories"))] == [failed]
    assert wrapper.findtext(pe("totalCount")) == "1" and wrapper.find(pe("totalCountRelation")) is None

    wrapper = soap.call("findHistory", query={"param": mine, "sort": {"criterion": [{"field": "finishedAt",
                                                                                     "ascending": False}]},
                                              "limit": 2})
    listed = wrapper.find(pe("processHistories"))
    assert len(listed) == 2  # 4 match: past query.count_limit, totalCount is that limit, a lower bound
    assert (wrapper.findtext(pe("totalCount")), wrapper.findtext(pe("totalCountRelation"))) == ("3", "gte")
    assert listed[0].get("finishedAt") >= listed[1].get("finishedAt")
    assert all(r.find(pe("elements")) is None and r.find(pe("operations")) is None for r in listed)

    assert soap.call("countHistory", query={"param": mine, "limit": 1}).findtext(pe("count")) == "4"
    typed = soap.client.service.findHistory(query={"param": mine, "limit": 1})  # a stub reads fields
    assert (typed.totalCount, typed.totalCountRelation) == (3, "gte")
    assert typed.processHistories.processHistory[0].externalId == external


def test_the_operation_log_shows_the_calls_on_a_process_and_the_one_that_failed(soap):
    execution = soap.result("run", processUri="hold.ipd", states=["WAITING"], autoDispose="never").get("executionId")
    soap.result("terminateProcess", executionId=execution, kill=True)
    assert fault_type(soap.fault("terminateProcess", executionId=execution)) == "InvalidState"

    wrapper = soap.call("findOperations", query={"param": param("target", "equals", execution)})
    calls = wrapper.find(pe("operations"))
    assert [(c.get("operation"), c.get("outcome")) for c in calls] == [
        ("run", "ok"), ("terminateProcess", "ok"), ("terminateProcess", "failed")]
    assert wrapper.findtext(pe("totalCount")) == "3" and calls[2].get("message")
    assert "kill" in [p.get("name") for p in calls[1].find(pe("parameters"))]


def test_the_fetch_that_disposed_a_process_is_in_its_history(soap):
    execution = soap.result("run", processUri="hold.ipd", states=["WAITING"], peek=True).get("executionId")
    soap.result("waitForProcess", executionId=execution, timeout=0)  # still waiting: a read, not logged
    soap.result("terminateProcess", executionId=execution, kill=True, peek=True)
    soap.result("waitForProcess", executionId=execution, timeout=1000)  # ended (autoDispose fetch): disposed by it
    assert fault_type(soap.fault("getProcessSnapshot", executionId=execution)) == "NotFound"

    calls = soap.result("getHistory", executionId=execution).find(pe("operations"))
    assert [(c.get("operation"), c.get("outcome"), c.get("target")) for c in calls] == [
        ("run", "ok", execution), ("terminateProcess", "ok", execution), ("waitForProcess", "ok", execution)]


def test_the_operation_log_keeps_no_data_store_content(soap):
    """A run's processParams and an instance's constants (data stores) are not among the logged parameters,
    whose calls are."""
    external, secret = unique(), f"content-{unique()}"
    soap.result("run", processUri="echo.ipd", externalId=external, processParams=store(**{"in": secret}))
    held = soap.result("run", processUri="hold.ipd", states=["WAITING"], externalId=external,
                       autoDispose="never").get("executionId")
    soap.result("setInstanceConstants", executionId=held, constants=store(limit=secret))

    wrapper = soap.call("findOperations", query={"param": param("operation", "in", "run", "setInstanceConstants"),
                                                 "limit": 1000})
    ours = [c for c in wrapper.find(pe("operations"))
            if external in [p.text for p in c.find(pe("parameters"))] or c.get("target") == held]
    assert [c.get("operation") for c in ours] == ["run", "run", "setInstanceConstants"]
    assert secret not in etree.tostring(wrapper, encoding="unicode")


def test_statistics_per_process_in_a_window(soap):
    first = soap.result("run", processUri="echo.ipd")
    soap.result("run", processUri="fail.ipd")
    since = first.get("createdAt")
    statistics = soap.result("getHistoryStatistics", **{"from": since})
    by_uri = {s.get("processUri"): s for s in statistics}
    assert set(by_uri) == {"echo.ipd", "fail.ipd"}
    failing = by_uri["fail.ipd"]
    assert (failing.get("count"), failing.get("failureRate")) == ("1", "1.0")
    assert [(e.get("state"), e.get("count")) for e in failing.find(pe("endStates"))] == [("FAILED", "1")]
    assert {(e.get("id"), e.get("failed")) for e in failing.find(pe("elementStatistics"))} == {
        ("root.start", "0"), ("root.f", "1")}
    only = soap.result("getHistoryStatistics", processUri="echo.ipd", **{"from": since, "to": "2999-01-01T00:00:00Z"})
    assert [(s.get("processUri"), s.get("failureRate")) for s in only] == [("echo.ipd", "0.0")]


# -- bad input: Client faults that name the problem -------------------------------------------------------------
def test_an_unknown_record_is_the_not_found_fault(soap):
    fault = soap.fault("getHistory", executionId="no-such-execution")
    assert fault.code.endswith("Client") and fault_type(fault) == "NotFound" and "no-such-execution" in fault.message


def query(children: str) -> str:
    """A query parameter as a stub writes it: the document's children directly under it (CONTRACT §11)."""
    return f'<query xmlns:q="{Q}">{children}</query>'


def test_a_field_the_records_do_not_have_is_a_client_fault(server):
    error = raw_fault(server, "findHistory", query('<q:param field="health" operation="isNull"/>'))
    assert error.get("type") == "InvalidQuery"
    assert error.get("message").startswith("query: ") and "'health' is not one of executionId" in error.get("message")
    error = raw_fault(server, "findOperations", query('<q:sort><q:criterion field="endState"/></q:sort>'))
    assert error.get("type") == "InvalidQuery" and "'endState' is not one of at, user" in error.get("message")
    error = raw_fault(server, "findExecutions", query('<q:param field="endState" operation="isNull"/>'))
    assert error.get("type") == "InvalidQuery"  # findExecutions refuses the records' fields, as before
    assert "'endState' is not one of executionId" in error.get("message")


def test_a_bad_window_is_a_client_fault_naming_its_end(server):
    error = raw_fault(server, "getHistoryStatistics", "<from>yesterday</from>")
    assert error.get("type") == "InvalidParameter" and error.get("message").startswith("from: 'yesterday'")
    error = raw_fault(server, "getHistoryStatistics", "<from>2026-02-01T00:00:00Z</from><to>2026-01-01T00:00:00Z</to>")
    assert error.get("type") == "InvalidParameter" and error.get("message").startswith("to: ")


# -- who sees what (the `secured` server: root is admin, clerk is not) ------------------------------------------
def test_a_user_sees_the_records_of_processes_they_may_read_and_their_own_calls(secured):
    def as_user(name: str) -> Soap:
        session = requests.Session()
        session.auth = (name, USERS[name][0])
        return Soap(secured, session)

    root, clerk = as_user("root"), as_user("clerk")
    external = unique()
    theirs = root.result("run", processUri="hold.ipd", states=["WAITING"], externalId=external,
                         autoDispose="never").get("executionId")
    mine = clerk.result("run", processUri="done.ipd", externalId=external).get("executionId")
    assert fault_type(clerk.fault("setOwner", executionId=theirs, owner="clerk")) == "AuthorizationException"
    root.result("terminateProcess", executionId=theirs, kill=True)
    ours = {"param": param("externalId", "equals", external)}

    assert [r.get("executionId") for r in clerk.call("findHistory", query=ours).find(pe("processHistories"))] == [mine]
    assert root.call("findHistory", query=ours).findtext(pe("totalCount")) == "2"
    assert clerk.call("countHistory", query=ours).findtext(pe("count")) == "1"
    assert fault_type(clerk.fault("getHistory", executionId=theirs)) == "NotFound"

    about = {"param": param("target", "in", mine, theirs)}
    seen = sorted((c.get("user"), c.get("operation"), c.get("outcome"))
                  for c in clerk.call("findOperations", query=about).find(pe("operations")))
    assert seen == [("clerk", "run", "ok"), ("clerk", "setOwner", "refused")]
    assert root.call("findOperations", query=about).findtext(pe("totalCount")) == "4"
