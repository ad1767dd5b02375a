"""The OpenAPI document at {root}/rest/openapi.json: it is valid OpenAPI 3, it describes every declared
endpoint, and the service keeps what it promises — a schemathesis run against the served document finds
no server error and no answer the document does not describe (status code, content type, JSON body)."""
from __future__ import annotations

import os
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from lxml import etree
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import UnsupportedSchema
from schemathesis.specs.openapi.checks import (content_type_conformance, response_headers_conformance,
                                               response_schema_conformance, status_code_conformance)

import rest  # noqa: F401  (importing the REST door declares its endpoints)
from rest.endpoint import ENDPOINTS
from tests.support.server import unique

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]
OPERATIONS = sorted({f"{e.method} {e.path}" for e in ENDPOINTS})
XML_TYPES = {"application/xml", "text/xml"}
# Bounded: ten examples per operation and mode, no shrinking (a failure is reported as first found);
# PE_FUZZ_EXAMPLES=500 digs deeper by hand.
BOUNDED = settings(max_examples=int(os.environ.get("PE_FUZZ_EXAMPLES", "10")), deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                   suppress_health_check=list(HealthCheck))
# A generated timeout may be -1 or minutes long, and a missing one means -1 (block until the awaited
# condition holds, up to the server's 20 s cap); the waits are real, so every timeout is cut to this (the
# blocking behaviour itself is tested in test_service.py and the engine tests).
MAX_WAIT_MS = 300
FRAMING = {"transfer-encoding", "content-length", "connection", "host", "expect", "upgrade", "te"}
TIMED = {f"{e.method} {e.path}" for e in ENDPOINTS if any(p.name == "timeout" and p.where == "query" for p in e.params)}


@pytest.fixture(scope="module")
def document(server) -> dict[str, Any]:
    answer = requests.get(server.url("openapi.json"), timeout=30)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    return answer.json()


@pytest.fixture(scope="module")
def api(server):
    return schemathesis.openapi.from_url(server.url("openapi.json"))


# -- the document ---------------------------------------------------------------------------------------
def test_the_document_is_valid_openapi_3(document):
    validate(document)  # raises on any violation of the OpenAPI 3.0 schema
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] and document["info"]["version"]


def test_the_server_url_is_the_context_root_and_the_operations_are_under_rest(server, document):
    assert [s["url"] for s in document["servers"]] == [server.root("").rstrip("/")]
    assert {path for path in document["paths"] if not path.startswith("/rest/")} == {
        "/health/live", "/health/ready", "/metrics"}


def operation_of(document: dict[str, Any], endpoint) -> dict[str, Any]:
    return document["paths"]["/rest" + endpoint.path][endpoint.method.lower()]


def test_every_endpoint_is_described(document):
    described = {(method.upper(), path) for path, item in document["paths"].items() for method in item
                 if method in ("get", "put", "post", "delete", "patch", "head", "options")}
    declared = {(e.method, "/rest" + e.path) for e in ENDPOINTS}
    assert described - declared == {("GET", "/health/live"), ("GET", "/health/ready"), ("GET", "/metrics")}
    assert declared <= described
    assert len(declared) == len(ENDPOINTS)  # no endpoint declared twice


def test_operation_ids_are_the_spec_names_suffixed_only_for_a_second_route(document):
    ids = [(op["operationId"], path, method) for path, item in document["paths"].items() for method, op in item.items()]
    assert len({i for i, _, _ in ids}) == len(ids)
    routes: dict[str, list] = {}
    for endpoint in ENDPOINTS:
        routes.setdefault(endpoint.operation, []).append(endpoint)
    for operation, endpoints in routes.items():
        assert operation_of(document, endpoints[0])["operationId"] == operation
        for other in endpoints[1:]:
            suffix = operation_of(document, other)["operationId"][len(operation):]
            assert operation_of(document, other)["operationId"].startswith(operation) and suffix in (
                f"By{other.method.title()}", "Alias"), (operation, suffix)
    assert {"runByGet", "disposeProcessesByPost", "getWatcherAlias", "countExecutions"} <= {i for i, _, _ in ids}


def test_every_operation_and_parameter_is_documented(document):
    """A description and a summary that says more than the name; every parameter described; a tag
    described for every tag used; a license."""
    used_tags = set()
    for item in document["paths"].values():
        for operation in item.values():
            assert len(operation["description"]) > 40, operation["operationId"]
            assert operation["summary"] and operation["summary"] != operation["operationId"]
            assert all(p["description"].strip() for p in operation.get("parameters", [])), operation["operationId"]
            used_tags.update(operation["tags"])
    assert used_tags == {tag["name"] for tag in document["tags"]} and all(t["description"] for t in document["tags"])
    assert document["info"]["license"]["name"]


def test_runs_and_queries_carry_examples_the_service_takes(server, document):
    """The examples of the documentation — a run's inputs and answer, a query's body — sent as they stand."""
    run = document["paths"]["/rest/run"]["get"]
    assert run["responses"]["200"]["content"]["application/json"]["example"]["processExecutionSnapshot"]
    params = {p["name"]: p["example"] for p in run["parameters"] if "example" in p}
    inputs = params.pop("inputs")
    assert inputs == {"in.name": "Ada"}
    answer = requests.get(server.url("run"), params={**params, **inputs}, timeout=60)
    assert answer.status_code == 200 and answer.json()["processExecutionSnapshot"]["state"] == "FINISHED", answer.text
    query = document["paths"]["/rest/processes/query"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert requests.post(server.url("processes/query"), json=query, timeout=60).status_code == 200


def test_closed_value_sets_are_named_enums(document):
    schemas = document["components"]["schemas"]
    snapshot = schemas["ProcessExecutionSnapshot"]["properties"]
    assert snapshot["state"] == {"$ref": "#/components/schemas/ExecutionState"}
    assert snapshot["autoDispose"] == {"$ref": "#/components/schemas/AutoDisposeMode"}
    assert snapshot["pipeline"]["allOf"] == [{"$ref": "#/components/schemas/DataStore"}]
    assert schemas["Health"]["properties"]["state"] == {"$ref": "#/components/schemas/HealthState"}
    assert schemas["Cluster"]["properties"]["connectionStatus"] == {"$ref": "#/components/schemas/ConnectionStatus"}
    text = str(document["paths"])
    assert "'enum'" not in text  # every enum of an operation is a reference

    def no_inline_enum(node: Any, where: str) -> None:
        if isinstance(node, dict):
            assert "enum" not in node or where.count("/") == 1, where
            for key, value in node.items():
                no_inline_enum(value, f"{where}/{key}")
        elif isinstance(node, list):
            for value in node:
                no_inline_enum(value, where)
    no_inline_enum(schemas, "")


def test_the_query_tree_is_typed_through_and_through(document):
    schemas = document["components"]["schemas"]
    query = schemas["Query"]["properties"]
    assert query["not"]["allOf"] == [{"$ref": "#/components/schemas/QueryNode"}]
    assert query["and"]["allOf"] == [{"$ref": "#/components/schemas/QueryNodes"}]
    assert schemas["QueryNodes"]["properties"]["or"]["items"] == {"$ref": "#/components/schemas/QueryNodes"}
    assert schemas["QueryParam"]["properties"]["field"] == {"$ref": "#/components/schemas/QueryField"}
    assert query["limit"]["type"] == query["offset"]["type"] == "integer" and query["limit"]["nullable"]
    assert schemas["SortCriterion"]["properties"]["ascending"]["type"] == "boolean"


def test_every_declared_parameter_and_body_is_described(document):
    for endpoint in ENDPOINTS:
        operation = operation_of(document, endpoint)
        described = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
        declared = {(p.name, p.where) for p in endpoint.params}
        assert declared <= described, endpoint.path
        for param in operation.get("parameters", []):
            if param["in"] == "path":
                assert param["required"] and "{" + param["name"] + "}" in endpoint.path
        assert ("requestBody" in operation) == (endpoint.body is not None), endpoint.path
        for name in (p.name for p in endpoint.params if p.required):
            assert next(p for p in operation["parameters"] if p["name"] == name)["required"], (endpoint.path, name)
        if endpoint.body is not None and endpoint.body.kind == "text":
            assert set(operation["requestBody"]["content"]) == {"text/plain", "application/json"}, endpoint.path
    inputs = next(p for p in operation_of(document, next(e for e in ENDPOINTS if e.free_params))["parameters"]
                  if p["name"] == "inputs")
    assert (inputs["style"], inputs["explode"], inputs["schema"]["type"]) == ("form", True, "object")


def test_every_answer_and_error_is_described(document):
    for endpoint in ENDPOINTS:
        responses = operation_of(document, endpoint)["responses"]
        kind = endpoint.answer.kind
        if kind in ("none", "optional_snapshot", "text"):
            assert "204" in responses, endpoint.path
        if kind == "none":
            assert "200" not in responses, endpoint.path
        elif kind == "text":
            assert set(responses["200"]["content"]) == {"text/plain"}, endpoint.path
        else:
            assert {"application/json"} | XML_TYPES <= set(responses["200"]["content"]), endpoint.path
        if kind in ("snapshots", "list"):
            assert {"X-Total-Count", "X-Total-Count-Relation"} <= set(responses["200"]["headers"])
        for status in ("400", "401", "403", "404", "406", "409", "413", "415", "500", "503"):
            assert "application/json" in responses[status]["content"], (endpoint.path, status)


def test_security_is_http_basic_and_optional(document):
    assert document["components"]["securitySchemes"]["basic"] == {"type": "http", "scheme": "basic"}
    assert {} in document["security"]  # without users configured no credentials are needed


# -- schemathesis ----------------------------------------------------------------------------------------
def _bounded(case, label: str) -> None:
    if label not in TIMED:
        return
    if case.query is None:
        case.query = {}
    value = case.query.get("timeout", -1)
    if isinstance(value, int) and not isinstance(value, bool) and (value == -1 or value > MAX_WAIT_MS):
        case.query["timeout"] = MAX_WAIT_MS


def _restore(server, session: requests.Session, label: str) -> None:
    """Undo what a generated call may have done to the node, on the same connection (so the same
    gunicorn worker, which on PostgreSQL is an engine node of its own)."""
    if label == "POST /setOnline":
        assert session.post(server.url("setOnline"), params={"online": "true", "param": "all"}).status_code == 204
    elif label in ("POST /cluster/disconnect", "POST /cluster/connect"):
        assert session.post(server.url("cluster/connect")).status_code in (200, 409)
    elif label == "PUT /maintenance":
        if session.get(server.url("maintenance")).json()["maintenanceLevel"]["id"] != "normal":
            assert session.put(server.url("maintenance"), data="normal",
                               headers={"Content-Type": "text/plain"}).status_code == 204


def _run(server, api, label: str, mode: GenerationMode, xml: bool = False, **fixed: Any) -> None:
    """Generated requests for one operation; with `xml`, asking for XML answers (Accept)."""
    method, path = label.split(" ", 1)
    operation = api["/rest" + path][method]
    session = requests.Session()

    @BOUNDED
    @given(case=operation.as_strategy(generation_mode=mode, **fixed))
    def conforms(case) -> None:
        _bounded(case, label)
        if case.headers:  # the message's framing is gunicorn's: an unknown transfer coding is its 501 (RFC 9112)
            case.headers = {k: v for k, v in case.headers.items() if k.lower() not in FRAMING}
        try:
            response = case.call(base_url=server.url("").rstrip("/"), session=session, timeout=60,
                                 headers={"Accept": "application/xml"} if xml else None)
            case.validate_response(response, checks=CHECKS)
            if xml and response.headers.get("Content-Type", "").startswith("application/xml"):
                etree.fromstring(response.content)  # well-formed
        finally:
            _restore(server, session, label)

    try:
        for _ in range(5):
            try:
                conforms()
                return
            except UnsupportedSchema:
                # A draw reached a part of the recursive query tree that schemathesis cannot negate
                # (about one run in twelve of a negative mode): draw again, with a fresh seed.
                continue
        pytest.skip(f"schemathesis could not make {label} invalid in five attempts")
    except Unsatisfiable:
        pytest.skip(f"{label} has no parameter or body that could be made invalid")
    finally:
        session.close()


MODES = {"positive": (GenerationMode.POSITIVE, False), "negative": (GenerationMode.NEGATIVE, False),
         "positive-xml": (GenerationMode.POSITIVE, True)}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("label", OPERATIONS)
def test_generated_requests_get_documented_answers(server, api, label, mode):
    generation, xml = MODES[mode]
    _run(server, api, label, generation, xml)


# The same, on resources that exist, so that the 200 answers (snapshots, watchers, services) are checked
# against their schemas too, not only the errors of unknown IDs.
LIVE = sorted(label for label in OPERATIONS if "{" in label or label in ("GET /run", "POST /run", "POST /validate"))


@pytest.fixture
def live(server) -> dict[str, Any]:
    held = server.request("GET", "run", params={"processUri": "hold.ipd", "states": "WAITING", "externalId": unique(),
                                                "autoDispose": "never", "timeout": "10000"})
    assert held.status_code == 200, held.text
    execution_id = held.json()["processExecutionSnapshot"]["executionId"]
    assert held.json()["processExecutionSnapshot"]["state"] == "WAITING"
    watcher = server.request("POST", "watchers", params={"executionId": execution_id, "expectedState": "FINISHED"})
    assert watcher.status_code == 200, watcher.text
    return {"executionId": execution_id, "watcherId": watcher.json()["processWatcher"]["id"], "serviceId": "report",
            "elementId": "root.hold"}


@pytest.mark.parametrize("xml", [False, True], ids=["json", "xml"])
@pytest.mark.parametrize("label", LIVE)
def test_generated_requests_on_live_resources_get_documented_answers(server, api, live, label, xml):
    path = label.split(" ", 1)[1]
    fixed: dict[str, Any] = {}
    names = [name for name in live if "{" + name + "}" in path]
    if names:
        fixed["path_parameters"] = {name: live[name] for name in names}
    if path in ("/run", "/validate"):
        fixed["query"] = {"processUri": "echo.ipd"}
    _run(server, api, label, GenerationMode.POSITIVE, xml, **fixed)


# -- what the runs found --------------------------------------------------------------------------------------
# Strings the engine cannot store (U+0000 on PostgreSQL) or an XML answer cannot carry (U+0001-U+001F but
# tab, LF and CR; U+FFFE, U+FFFF) were once 500s: psycopg2's "A string literal cannot contain NUL", and
# lxml's "All strings must be XML compatible" while rendering an error that echoed them. Every string
# parameter now refuses them.
UNSTORABLE = [("GET", "processes/a%00b", {}), ("DELETE", "processes/a%00b", {}),
              ("GET", "watchers/a%00b", {}), ("POST", "watchers", {"executionId": "a\x00b"}),
              ("GET", "run", {"processUri": "done.ipd", "externalId": "a\x00b"}),
              ("POST", "uncacheProcesses", {"owner": "a\x00b"}),
              ("POST", "setOnline", {"online": "true", "param": "specified", "node": "a\x00b"}),
              ("GET", "processes/a%01b", {}), ("GET", "services/a%1Fb", {}), ("GET", "watchers/a%0Bb", {}),
              ("GET", "run", {"processUri": "done.ipd", "externalId": "a\x01b"}),
              ("POST", "setOnline", {"online": "true", "param": "specified", "node": "a\x02b"}),
              ("GET", "processes/a%EF%BF%BEb", {})]


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
@pytest.mark.parametrize("method, path, params", UNSTORABLE, ids=[f"{m} {p} {sorted(q)}" for m, p, q in UNSTORABLE])
def test_a_character_that_cannot_be_stored_or_answered_is_refused(server, method, path, params, accept):
    """CONTRACT §6: no input, however malformed, produces a 500."""
    answer = server.request(method, path, params=params, headers={"Accept": accept})
    assert answer.status_code == 400, answer.text
    assert answer.headers["Content-Type"].startswith(accept)
    if accept == "application/json":
        assert answer.json()["type"] == "InvalidParameter"
    else:
        assert etree.fromstring(answer.content).get("type") == "InvalidParameter"


ECHOING_BODIES = [("run", {"\x01": 1}), ("run", {"dataStore": {"\x01": 1}}),
                  ("run", {"dataStore": {"entry": [{"name": "a", "\x01": 1}]}}),
                  ("processes/query", {"query": {"\x01": 1}}), ("processes/query", {"query": {"sort": {"\x01": 1}}})]


@pytest.mark.parametrize("path, body", ECHOING_BODIES, ids=[f"{p} {b}" for p, b in ECHOING_BODIES])
def test_an_error_echoing_a_control_character_is_answered_in_xml(server, path, body):
    params = {"processUri": "echo.ipd"} if path == "run" else {}
    answer = server.request("POST", path, params=params, json=body, headers={"Accept": "application/xml"})
    assert answer.status_code == 400, answer.text
    assert etree.fromstring(answer.content).get("type") in ("InvalidDataStore", "InvalidQuery")


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
def test_an_error_echoing_a_lone_surrogate_is_answered(server, accept):
    answer = server.request("POST", "processes/query", data='{"query": {"\\ud800": 1}}',
                            headers={"Content-Type": "application/json", "Accept": accept})
    assert answer.status_code == 400, answer.text
    assert answer.headers["Content-Type"].startswith(accept)

