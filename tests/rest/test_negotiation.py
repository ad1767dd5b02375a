"""What a REST client negotiates and what the browser is shown: an Accept the door cannot answer is 406;
the single-value PUTs take JSON as well as text/plain; a query is optional where CONTRACT §5 says so and
counting one is exact; the API documentation is Swagger UI served from the package, nothing from a CDN."""
from __future__ import annotations

import re

import pytest
import requests

from tests.support.server import unique

JSON = {"Content-Type": "application/json"}


def waiting(server, external: str | None = None) -> str:
    held = server.request("GET", "run", params={"processUri": "hold.ipd", "states": "WAITING", "timeout": "10000",
                                                "autoDispose": "never", "externalId": external or unique()})
    assert held.status_code == 200, held.text
    return held.json()["processExecutionSnapshot"]["executionId"]


# -- Accept --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path, accept", [("processDefinitions", "text/csv"), ("processDefinitions", "text/plain"),
                                          ("nodeState", "image/*")])
def test_an_accept_the_answer_cannot_meet_is_406_in_json(server, path, accept):
    answer = server.request("GET", path, headers={"Accept": accept})
    assert answer.status_code == 406 and answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["type"] == "NotAcceptable" and "Accept" in answer.json()["message"]


@pytest.mark.parametrize("path, accept, produced", [
    ("processDefinitions", "text/csv, application/xml;q=0.1", "application/xml"),
    ("processDefinitions", "*/*", "application/json"), ("processDefinitions", "application/*", "application/json"),
    ("version", "text/*", "text/plain"), ("version", "*/*", "text/plain"),
    ("version", "application/xml", "text/plain")])  # a text-only answer is given as it is
def test_an_accept_with_one_type_the_answer_meets_is_answered(server, path, accept, produced):
    answer = server.request("GET", path, headers={"Accept": accept})
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(produced), answer.text


def test_an_attribute_may_be_set_to_the_empty_text(server):
    execution = waiting(server)
    answer = server.request("PUT", f"processes/{execution}/attributes/note", data=b"",
                            headers={"Content-Type": "text/plain"})
    assert answer.status_code == 204, answer.text
    attributes = server.request("GET", f"processes/{execution}/attributes").json()["attributes"]["attribute"]
    assert [(a["name"], a.get("value", "")) for a in attributes] == [("note", "")]


def test_an_answer_without_a_body_meets_any_accept(server):
    execution = waiting(server)
    answer = server.request("PUT", f"processes/{execution}/attributes/color", data="blue",
                            headers={"Content-Type": "text/plain", "Accept": "text/csv"})
    assert answer.status_code == 204


# -- JSON for the single-value PUTs --------------------------------------------------------------------
def test_the_single_value_puts_take_json(server):
    execution = waiting(server)
    assert server.request("PUT", f"processes/{execution}/attributes/color", data='"blue"', headers=JSON).status_code == 204
    assert server.request("PUT", f"processes/{execution}/attributes/empty", data='""', headers=JSON).status_code == 204
    attributes = server.request("GET", f"processes/{execution}/attributes").json()["attributes"]["attribute"]
    assert {a["name"]: a.get("value", "") for a in attributes} == {"color": "blue", "empty": ""}
    owned = server.request("PUT", f"processes/{execution}/owner", data='"carol"', headers=JSON)
    assert owned.json()["processExecutionSnapshot"]["owner"] == "carol"
    offline = server.request("PUT", f"processes/{execution}/online", data="false", headers=JSON)
    assert offline.json()["processExecutionSnapshot"]["online"] is False
    granted = server.request("PUT", f"processes/{execution}/permissions/clerks", data='["read", "execute"]',
                             headers=JSON)
    aces = granted.json()["processExecutionSnapshot"]["permissions"]["ace"]
    assert [(a["name"], a["privilege"]) for a in aces] == [("clerks", ["execute", "read"])]


@pytest.mark.parametrize("path, body, words", [
    ("online", "3", "a JSON boolean or string"), ("owner", "[1]", "a JSON string"),
    ("permissions/clerks", '{"read": true}', "a JSON array of strings"), ("owner", "{not json", "not JSON")])
def test_a_json_body_of_the_wrong_kind_is_400_naming_it(server, path, body, words):
    execution = waiting(server)
    answer = server.request("PUT", f"processes/{execution}/{path}", data=body, headers=JSON)
    assert answer.status_code == 400 and answer.json()["type"] == "InvalidParameter"
    assert words in answer.json()["message"], answer.json()


def test_setting_the_maintenance_level_in_force_again_succeeds(server):
    for _ in range(2):
        assert server.request("PUT", "maintenance", data='"normal"', headers=JSON).status_code == 204
    assert server.request("GET", "maintenance").json()["maintenanceLevel"]["id"] == "normal"


# -- queries: optional, counted ------------------------------------------------------------------------
def test_find_executions_without_a_query_finds_every_process(server):
    external = unique()
    waiting(server, external)
    everything = server.request("POST", "processes/query")
    assert everything.status_code == 200, everything.text
    found = everything.json()["processExecutionSnapshots"]["processExecutionSnapshot"]
    assert external in {s.get("externalId") for s in found}
    assert int(everything.headers["X-Total-Count"]) == len(found)


def test_recover_processes_without_a_query_recovers_every_lost_one(server):
    answer = server.request("POST", "recover")
    assert answer.status_code == 200 and answer.json()["executionIds"]["count"] == 0  # none is LOST here


def test_dispose_processes_still_needs_a_query(server):
    answer = server.request("POST", "processes/dispose")
    assert answer.status_code == 400 and answer.json()["type"] == "InvalidParameter"


def test_count_executions_counts_exactly_what_the_query_matches(server):
    external = unique()
    for _ in range(3):
        waiting(server, external)
    query = {"query": {"param": {"field": "externalId", "operation": "equals", "values": {"value": [external]}},
                       "limit": 1}}
    counted = server.request("POST", "processes/count", json=query)
    assert counted.status_code == 200 and counted.json() == {"count": 3}  # paging does not bound a count
    as_xml = server.request("POST", "processes/count", json=query, headers={"Accept": "application/xml"})
    assert re.search(rb"<count[^>]*>3</count>", as_xml.content), as_xml.content
    assert server.request("POST", "processes/count").json()["count"] >= 3


# -- the documentation in the browser ------------------------------------------------------------------
def test_the_api_docs_are_swagger_ui_served_from_the_package(server):
    entry = requests.get(server.url("docs"), timeout=30, allow_redirects=False)
    assert entry.status_code == 308 and entry.headers["Location"].endswith("/rest/docs/")
    page = requests.get(server.url("docs/"), timeout=30)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all("//" not in source for source in sources), sources  # nothing from elsewhere
    for source in sources:
        asset = requests.get(server.url(f"docs/{source}"), timeout=30)
        assert asset.status_code == 200 and len(asset.content) > 100, source
    start = requests.get(server.url("docs/start.js"), timeout=30).text
    assert "../openapi.json" in start
    assert requests.get(server.url("docs/../../etc/passwd"), timeout=30).status_code == 404
    assert requests.get(server.url("docs/swagger-ui.js.map"), timeout=30).status_code == 404
