"""REST call helpers: one request checked for its status, snapshots, pipelines and errors in JSON and XML."""
from __future__ import annotations

import pytest
import requests
from lxml import etree

from tests.support.namespaces import DAT, PE, dat, pe
from tests.support.server import unique

XML = {"Accept": "application/xml"}
STANDARD = {"x-infinica-datastore-mode": "standard"}
TEXT = {"Content-Type": "text/plain"}
PROCESS_STREAM = (f'<process xmlns="{PE}" version="4" name="Streamed"><startElement id="s"/>'
                  '<assign id="a" name="from">stream</assign></process>')


def call(server, method: str, path: str, status: int, **kwargs) -> requests.Response:
    """One request; never a 500 nor a traceback, and the expected status."""
    answer = server.request(method, path, **kwargs)
    assert answer.status_code != 500 and "Traceback" not in answer.text, answer.text
    assert answer.status_code == status, (answer.status_code, answer.text)
    return answer


def snap(answer: requests.Response) -> dict:
    assert answer.headers["Content-Type"].startswith("application/json")
    return answer.json()["processExecutionSnapshot"]


def xml(answer: requests.Response, root: str = "processExecutionSnapshot") -> etree._Element:
    assert answer.headers["Content-Type"].startswith("application/xml")
    element = etree.fromstring(answer.content)
    assert element.tag == f"{{{PE}}}{root}"
    return element


def entries(snapshot: dict) -> dict[str, list[str]]:
    """A simple-mode JSON pipeline as {name: values}."""
    return {e["name"]: e["value"] for e in snapshot["pipeline"]["entry"]}


def xml_entries(root: etree._Element) -> dict[str, list[str]]:
    """A simple-mode XML pipeline as {name: values}."""
    pipeline = root.find(pe("pipeline"))
    return {e.get("name"): [v.text for v in e.findall(dat("value"))] for e in pipeline.findall(dat("entry"))}


def error(answer: requests.Response, kind: str) -> str:
    body = answer.json()
    assert body["type"] == kind and body["message"], body
    return body["message"]


def xml_error(answer: requests.Response, kind: str) -> etree._Element:
    element = xml(answer, "error")
    assert element.get("type") == kind and element.get("message")
    return element


def run(server, uri: str, status: int = 200, headers: dict | None = None, **params) -> requests.Response:
    return call(server, "GET", "run", status, params={"processUri": uri, **params}, headers=headers or {})


def waiting(server, external_id: str | None = None, **params) -> dict:
    """A hold.ipd instance at its wait state."""
    params = {"states": "WAITING", **params, **({"externalId": external_id} if external_id else {})}
    snapshot = snap(run(server, "hold.ipd", **params))
    assert snapshot["state"] == "WAITING"
    return snapshot


def instantiate(server, status: int = 200, headers: dict | None = None, **fields) -> requests.Response:
    """POST /processes as multipart/form-data, each field a plain form field."""
    return call(server, "POST", "processes", status, files={k: (None, v) for k, v in fields.items()},
                headers=headers or {})


def spin(server, external_id: str | None = None) -> dict:
    snapshot = snap(run(server, "spin.ipd", states="RUNNING", externalId=external_id or unique()))
    assert snapshot["state"] == "RUNNING"
    return snapshot


def kill(server, execution_id: str) -> None:
    killed = snap(call(server, "POST", f"processes/{execution_id}/terminate", 200, params={"kill": "true"}))
    assert killed["health"]["state"] == "KILLED"


def query_json(external_id: str) -> dict:
    return {"query": {"param": {"field": "externalId", "operation": "equals", "values": {"value": [external_id]}}}}


def query_xml(external_id: str) -> str:
    return (f'<query xmlns="http://www.infinica.com/query" xmlns:dat="{DAT}"><param field="externalId" '
            f'operation="equals"><values type="text/plain"><dat:value>{external_id}</dat:value></values></param></query>')


def found(server, external_id: str) -> list[dict]:
    answer = call(server, "POST", "processes/query", 200, json=query_json(external_id))
    return answer.json()["processExecutionSnapshots"]["processExecutionSnapshot"]


def pipeline_of(answer: requests.Response, as_xml: bool, standard: bool, root: str = "processExecutionSnapshot",
                nested: bool = False) -> dict[str, list[str]]:
    """The snapshot's pipeline as {name: values}, after checking it has the form the mode asks for."""
    if as_xml:
        element = xml(answer, root)
        snapshot = element.find(pe("processExecutionSnapshot")) if nested else element
        return store_entries(snapshot.find(pe("pipeline")), standard)
    body = answer.json()[root]
    return store_entries((body["processExecutionSnapshot"] if nested else body)["pipeline"], standard)


def store_entries(holder: etree._Element | dict, standard: bool) -> dict[str, list[str]]:
    """A data store held by an answer's element (XML) or value (JSON) as {name: values}, after checking
    it has the form the mode asks for."""
    if isinstance(holder, dict):
        if not standard:
            assert set(holder) == {"entry"}
            return {e["name"]: e["value"] for e in holder["entry"]}
        assert set(holder) == {"values", "entries"}
        values = {v["id"]: v["content"]["value"][0] for v in holder["values"]["value"]}
        return {e["name"]: [values[i] for i in e["value"]] for e in holder["entries"]["entry"]}
    if not standard:
        assert all(child.tag == dat("entry") for child in holder)
        return {e.get("name"): [v.text for v in e.findall(dat("value"))] for e in holder}
    assert [child.tag for child in holder] == [dat("values"), dat("entries")]
    values = {v.get("id"): v.findtext(dat("content")) for v in holder.find(dat("values"))}
    return {e.get("name"): [values[r.text] for r in e] for e in holder.find(dat("entries"))}


MODES = [pytest.param(x, st, id=f"{'xml' if x else 'json'}-{'standard' if st else 'simple'}")
         for x in (False, True) for st in (False, True)]
