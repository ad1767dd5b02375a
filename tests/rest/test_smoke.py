"""The service answers over real HTTP: a first run, in JSON and XML."""
from __future__ import annotations

from lxml import etree


def test_get_run_in_json_and_xml(server):
    answer = server.request("GET", "run", params={"processUri": "echo.ipd", "in.in": "Ada"})
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    snapshot = answer.json()["processExecutionSnapshot"]
    assert snapshot["state"] == "FINISHED"
    assert {e["name"]: e["value"] for e in snapshot["pipeline"]["entry"]}["out"] == ["echo Ada"]
    xml = server.request("GET", "run", params={"processUri": "echo.ipd", "in.in": "Bo"},
                         headers={"Accept": "application/xml"})
    root = etree.fromstring(xml.content)
    assert root.tag == "{http://www.infinica.com/process-engine}processExecutionSnapshot"
    assert root.get("state") == "FINISHED"


def test_errors_are_typed(server):
    missing = server.request("GET", "processes/no-such-id")
    assert missing.status_code == 404 and missing.json() == {"type": "NotFound", "message": "unknown execution: no-such-id"}
    bad = server.request("GET", "run", params={"processUri": "echo.ipd", "timeout": "soon"})
    assert bad.status_code == 400 and bad.json()["type"] == "InvalidParameter"
