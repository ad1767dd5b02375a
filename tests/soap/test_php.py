"""The SOAP door through PHP's SoapClient (ext-soap) in WSDL mode, on the WSDL the server serves, as a PHP
user of the service calls it: plain PHP arrays in, the objects SoapClient builds out. The PHP side is
tests/soap/php/scenario.php, run once per server (SQLite and PostgreSQL, the `server` fixture of
tests/soap/conftest.py); it prints one JSON document of what each step saw, and the tests here check it.

What a PHP user meets, and how the scenario deals with it:
- A repeatable element that occurs once is given as the item itself, not a list of one (the pipeline's
  `entry`, a `value`, `processExecutionSnapshot` in a page of one): the scenario normalises with as_list().
  (SoapClient's `features => SOAP_SINGLE_ELEMENT_ARRAYS` would make them lists always.)
- A fault's `$fault->detail` is decoded without the operations' `wsdl:fault` declarations (ext-soap's
  php_packet_soap.c guesses, `master_to_zval(&details, NULL, detail)`): an element's attributes are read
  only when its `xsi:type` names its type. The service writes `xsi:type="tns:Error"` on the detail's
  `<error>`, so `$fault->detail->error` is a SoapVar whose `enc_value` holds `type` and `message` — an
  instance of the user's class when the SoapClient's `classmap` maps `Error` to it, as the scenario does.
- `$fault->faultcode` is the faultcode's text as written, prefix included ("soap11env:Client").
- An operation without parameters is called as `$client->version()`; SoapClient sends the empty wrapper
  `<ns1:version/>`.

PHP comes from Debian's packages when missing (tests/support/toolkits.py): php-cli, php-soap.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.toolkits import apt_install, require

SCENARIO = Path(__file__).resolve().parent / "php" / "scenario.php"
PE = "http://www.infinica.com/process-engine"
EXTENSIONS = {"soap": "php-soap"}  # PHP extension: the Debian package that brings it


def php_modules(php: str) -> set[str]:
    done = subprocess.run([php, "-m"], capture_output=True, text=True, timeout=60)
    return {line.strip().lower() for line in done.stdout.splitlines()}


def php_with_extensions() -> str:
    """The `php` command, with the extensions the scenario needs installed: `php` may be there without them."""
    php = require(["php"], ["php-cli", *EXTENSIONS.values()])["php"]
    missing = [package for extension, package in EXTENSIONS.items() if extension not in php_modules(php)]
    if missing:
        apt_install(missing)
        lacking = [extension for extension in EXTENSIONS if extension not in php_modules(php)]
        if lacking:
            pytest.fail(f"php lacks the extensions {', '.join(lacking)} after installing {', '.join(missing)}")
    return php


@pytest.fixture(scope="module")
def seen(server) -> dict[str, Any]:
    """What scenario.php saw, run once against this module's server."""
    php = php_with_extensions()
    done = subprocess.run([php, "-d", "soap.wsdl_cache_enabled=0", "-d", "default_socket_timeout=30",
                           "-d", "display_errors=stderr", str(SCENARIO), server.root("soap?wsdl")],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"scenario.php failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def step(seen: dict[str, Any], name: str) -> dict[str, Any]:
    """One step's record; a step that threw fails here with the exception and the wire."""
    record = seen.get(name)
    assert record is not None, f"scenario.php recorded no step {name!r}"
    if "unexpected" in record:
        pytest.fail(f"{name}: {record['unexpected']}\nrequest:\n{record['request']}\nresponse:\n{record['response']}")
    return record


def test_run_with_simple_form_params(seen):
    ran = step(seen, "runSimple")
    snapshot = ran["snapshot"]
    assert (snapshot["state"], snapshot["health"], snapshot["uri"]) == ("FINISHED", "OK", "echo.ipd")
    assert snapshot["externalId"] == ran["sentExternalId"]
    assert snapshot["entries"] == {"in": ["Zed"], "out": ["echo Zed"]}  # "in" as sent, not the default "nobody"
    assert isinstance(snapshot["stateChangeIndex"], int)  # xs:int read as a PHP int, not a string


def test_run_with_standard_form_params(seen):
    ran = step(seen, "runStandard")
    snapshot = ran["snapshot"]
    assert (snapshot["state"], snapshot["externalId"]) == ("FINISHED", ran["sentExternalId"])
    assert ran["standardForm"], "simpleDataStore=false must answer the pipeline in the standard form"
    assert snapshot["entries"] == {"in": ["Ann"], "out": ["echo Ann"]}  # read through the value IDs


def test_run_of_a_failing_process(seen):
    ran = step(seen, "runFailing")
    assert (ran["snapshot"]["state"], ran["snapshot"]["externalId"]) == ("FAILED", ran["sentExternalId"])


def test_instantiate_start_wait_continue(seen):
    life = step(seen, "lifecycle")
    created, started, waiting = life["instantiated"], life["started"], life["waiting"]
    continued, ended = life["continued"], life["ended"]
    execution = created["executionId"]
    assert {s["executionId"] for s in (started, waiting, continued, ended)} == {execution}
    assert (created["state"], created["externalId"], created["uri"]) == ("CREATED", life["sentExternalId"], "hold.ipd")

    # timeout 0 answers at once; ignored, startProcess would wait for an end hold.ipd never reaches on its own
    # (20 s, the server's max_timeout_ms)
    assert life["startSeconds"] < 5
    assert started["state"] in {"READY", "RUNNING", "WAITING"}
    assert started["stateChangeIndex"] > created["stateChangeIndex"]

    assert waiting["state"] == "WAITING" and waiting["entries"] == {"x": ["1"]}

    assert continued["state"] in {"READY", "RUNNING", "FINISHED"}  # continued, not still WAITING
    assert continued["stateChangeIndex"] > waiting["stateChangeIndex"]

    assert (ended["state"], ended["health"]) == ("FINISHED", "OK")
    assert ended["entries"] == {"x": ["1"], "after": ["1!"]}


def test_find_executions_with_a_query_by_pages(seen):
    found = step(seen, "find")
    simple, standard = step(seen, "runSimple")["snapshot"], step(seen, "runStandard")["snapshot"]
    first, second, beyond = found["pages"]
    # three externalIds asked for, the FAILED one left out by the `not`
    assert [page["totalCount"] for page in found["pages"]] == [2, 2, 2]
    assert len(first["snapshots"]) == 1 and len(second["snapshots"]) == 1 and beyond["snapshots"] == []
    [newer], [older] = first["snapshots"], second["snapshots"]
    # createdAt descending: runStandard was created after runSimple (20 ms later at least)
    assert standard["createdAt"] > simple["createdAt"]
    assert (newer["executionId"], older["executionId"]) == (standard["executionId"], simple["executionId"])
    assert (newer["externalId"], older["externalId"]) == (standard["externalId"], simple["externalId"])


def check_client_fault(fault: dict[str, Any]) -> dict[str, str]:
    """A Client fault whose detail SoapClient decoded as the WSDL's tns:Error, into the scenario's class."""
    assert "noFault" not in fault, f"no fault; answered:\n{fault['response']}"
    assert fault["faultcode"].rsplit(":", 1)[-1] == "Client"
    assert fault["detailType"] == [PE, "Error"], fault["response"]
    assert fault["detailClass"] == "ProcessEngineError", fault["response"]
    error = fault["error"]
    assert fault["faultstring"] == error["message"]
    return error


def test_fault_of_an_unknown_execution(seen):
    error = check_client_fault(step(seen, "notFound"))
    assert error["type"] == "NotFound"
    assert "php-no-such-execution" in error["message"]


def test_fault_of_a_negative_timeout(seen):
    error = check_client_fault(step(seen, "badTimeout"))
    assert error["type"] == "InvalidParameter"
    assert "timeout" in error["message"] and "-5" in error["message"]


def test_calls_without_parameters(seen, server):
    version, node = step(seen, "version"), step(seen, "nodeState")
    assert version["version"] and version["version"] == server.request("GET", "version").text.strip()
    assert "<ns1:version/>" in version["request"]  # what SoapClient sends: the empty wrapper

    # the node of the worker that answered (on PostgreSQL each gunicorn worker is a node of its own)
    nodes = {n["engineId"]: n for n in server.request("GET", "nodeStates").json()["nodeStates"]["nodeState"]}
    assert node["engineId"] in nodes
    assert node["online"] is True and node["connectionStatus"] == "connected"  # xs:boolean read as a PHP bool
    assert isinstance(node["runningProcesses"], int)  # xs:long read as a PHP int
    # the master runs the wait state handlers, the other nodes none (read from the one answer: the cluster's
    # view in nodeStates may lag the node's own for a moment after start-up)
    assert isinstance(node["master"], bool) and bool(node["handlers"]) is node["master"], node
    assert all(isinstance(handler, str) for handler in node["handlers"])
    assert "<ns1:getNodeState/>" in node["request"]
