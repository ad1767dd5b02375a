"""Every endpoint of rest/administration.py (the spec's Administration, Service Management, Cluster
Control and Diagnostic Operations) over real HTTP, in JSON and XML, and the security around them
(CONTRACT §8): what an operator calling them would notice.

On PostgreSQL the service runs two gunicorn workers, each an engine node of its own, and node-specific
calls (setOnline self, cluster/disconnect, nodeState, waitForNoRunningProcesses, caches) are answered by
whichever worker takes the connection. Those tests keep one connection (`node`, a requests.Session) so
that every call of theirs reaches the same worker.
"""
from __future__ import annotations

import base64
import os
import platform
import re
import time
import tomllib
import uuid
from importlib.metadata import version
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator

import pytest
import requests
from lxml import etree

from tests.support.common import settles, write_definition
from tests.support.server import Server, basic, start_server, unique

PE = "{http://www.infinica.com/process-engine}"
DAT = "{http://www.infinica.com/datastore}"
XML = {"Accept": "application/xml"}
TEXT = {"Content-Type": "text/plain"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
STANDARD_CHECKS = ["zookeeperWaitState", "zookeeperProcess", "signal", "waitState", "execution", "taskPayload",
                   "zookeeperWatcher", "waiter"]
TELEMETRY_TYPES = {"PROCESS_INSTANCE", "CACHED_PROCESS_INSTANCE", "PROCESS_EXECUTION", "SIGNAL", "THREAD_POOL",
                   "WAITSTATE", "TASK", "WAITERS", "CACHE", "VOLATILE_INSTANCES"}
BROKER = "amqp://broker.example:5672/pe"
TASKS = "https://tasks.example/tm"


# -- helpers ---------------------------------------------------------------------------------------------
class Node:
    """Calls over one kept-alive connection, so one gunicorn worker answers them all."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.session = requests.Session()

    def __call__(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 60)
        return self.session.request(method, self.server.url(path), **kwargs)


@pytest.fixture
def node(server) -> Iterator[Node]:
    calls = Node(server)
    yield calls
    calls.session.close()


def backend(request: pytest.FixtureRequest) -> str:
    return request.node.callspec.params["server"]


def settings_of(server: Server) -> dict[str, Any]:
    return tomllib.loads((server.log.parent / "settings.toml").read_text())


def repository(server: Server) -> Path:
    return Path(settings_of(server)["repository"]["path"])


def xml(answer: requests.Response) -> etree._Element:
    assert answer.headers["Content-Type"].startswith("application/xml"), answer.headers["Content-Type"]
    return etree.fromstring(answer.content)


def text_answer(answer: requests.Response) -> str:
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("text/plain"), answer.headers["Content-Type"]
    return answer.text


def nothing(answer: requests.Response) -> None:
    assert answer.status_code == 204, answer.text
    assert answer.content == b""


def error(answer: requests.Response, status: int, kind: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["type"] == kind, body
    return body["message"]


def xml_error(answer: requests.Response, status: int, kind: str) -> etree._Element:
    assert answer.status_code == status, answer.text
    root = xml(answer)
    assert root.tag == f"{PE}error" and root.get("type") == kind
    assert root.get("message")
    return root


def waiting(call, **params: str) -> dict[str, Any]:
    """A hold.ipd instance of this test's own, WAITING."""
    answer = call("GET", "run", params={"processUri": "hold.ipd", "states": "WAITING", "timeout": "10000",
                                        "externalId": unique(), "autoDispose": "never", **params})
    assert answer.status_code == 200, answer.text
    snapshot = answer.json()["processExecutionSnapshot"]
    assert snapshot["state"] == "WAITING"
    return snapshot


def snapshot_of(call, execution_id: str) -> dict[str, Any]:
    answer = call("GET", f"processes/{execution_id}", params={"peek": "true"})
    assert answer.status_code == 200, answer.text
    return answer.json()["processExecutionSnapshot"]


def entries(store: dict[str, Any]) -> dict[str, list[str]]:
    return {e["name"]: e["value"] for e in store["dataStore"].get("entry", [])}




def retitle(repo: Path, uri: str, old: str, new: str) -> None:
    """Change a definition's name so that the repository's file check cannot see it: same size, same
    modification time. Only a dropped cache entry makes the engine read it again."""
    assert len(old) == len(new)
    path = repo / uri
    before = path.stat()
    path.write_text(path.read_text().replace(f'name="{old}"', f'name="{new}"'))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


def name_of(call, uri: str) -> str:
    answer = call("POST", "validate", params={"processUri": uri})
    assert answer.status_code == 200, answer.text
    return answer.json()["processValidationResult"]["name"]


def own_definition(server: Server, body: str = '<endElement id="end"/>') -> str:
    uri = f"admin-{uuid.uuid4().hex[:8]}.ipd"
    write_definition(repository(server), uri, body, title="Alpha")
    return uri


# -- clearCache ------------------------------------------------------------------------------------------
def test_clear_cache_of_one_definition_reads_an_unnoticed_edit_again(server, node):
    uri = own_definition(server)
    other = own_definition(server)
    assert name_of(node, uri) == name_of(node, other) == "Alpha"
    retitle(repository(server), uri, "Alpha", "Omega")
    retitle(repository(server), other, "Alpha", "Omega")
    assert name_of(node, uri) == "Alpha"  # the cache still answers
    nothing(node("POST", "clearCache", params={"cachePaths": f"definitions/{uri}"}))
    assert name_of(node, uri) == "Omega"
    assert name_of(node, other) == "Alpha"  # only the named entry went
    nothing(node("POST", "clearCache"))  # no cachePaths: every cache
    assert name_of(node, other) == "Omega"


@pytest.mark.parametrize("params", [{"cachePaths": "definitions,registrations"},
                                    {"cachePaths": ["definitions", "registrations"]},
                                    {"cachePaths": "registrations"}, {"cachePaths": "definitions/no-such.ipd"}])
def test_clear_cache_takes_lists_in_both_spellings(server, params):
    nothing(server.request("POST", "clearCache", params=params))


def test_clear_cache_refuses_an_unknown_path_and_names_the_valid_ones(server, node):
    uri = own_definition(server)
    assert name_of(node, uri) == "Alpha"
    retitle(repository(server), uri, "Alpha", "Omega")
    message = error(node("POST", "clearCache", params={"cachePaths": ["definitions", "bogus"]}), 400,
                    "InvalidParameter")
    assert "cachePaths" in message and "bogus" in message
    assert all(path in message for path in ("definitions", "definitions/<uri>", "registrations"))
    assert name_of(node, uri) == "Alpha"  # checked before anything was cleared
    xml_error(node("POST", "clearCache", params={"cachePaths": "/definitions"}, headers=XML), 400, "InvalidParameter")


# -- getBrokerUri, getTaskManagerUrl ---------------------------------------------------------------------
@pytest.mark.parametrize("path", ["brokerUrl", "taskManagerUrl"])
def test_integration_urls_answer_nothing_when_not_configured(server, path):
    nothing(server.request("GET", path))
    nothing(server.request("GET", path, headers=XML))


@pytest.fixture(scope="module")
def integrated(server, tmp_path_factory) -> Iterator[SimpleNamespace]:
    """A second service (on PostgreSQL in the same schema) with [integration] set and a service that is
    never started."""
    folder = tmp_path_factory.mktemp("integrated")
    service = f"idle-{uuid.uuid4().hex[:6]}"
    url = settings_of(server)["storage"]["url"]
    if url.startswith("sqlite"):  # SQLite serves one node: a database of its own
        url = f"sqlite:///{folder / 'engine.db'}"
    running = start_server(folder, url,
                           f'[integration]\nbroker_url = "{BROKER}"\ntask_manager_url = "{TASKS}"\n'
                           f"[[services]]\nid = '{service}'\nprocessUri = 'services/report.ipd'\n"
                           f"description = 'Never started'\n")
    yield SimpleNamespace(server=running, service=service)
    running.stop()


def test_integration_urls_are_plain_text_when_configured(integrated):
    server = integrated.server
    assert text_answer(server.request("GET", "brokerUrl")) == BROKER
    assert text_answer(server.request("GET", "taskManagerUrl")) == TASKS
    assert text_answer(server.request("GET", "brokerUrl", headers=XML)) == BROKER  # scalars are always text
    features = {f["name"]: f["state"] for f in server.request("GET", "features").json()["features"]["feature"]}
    assert features["tasks"] == features["messaging"] == "active"


# -- getConstants ----------------------------------------------------------------------------------------
def test_constants_all_by_full_name(server):
    answer = server.request("GET", "constants")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("application/json")
    found = entries(answer.json())
    assert found["company"] == ["Example Ltd"] and found["billing/vat"] == ["0.2"]
    root = xml(server.request("GET", "constants", headers=XML))
    assert root.tag == f"{DAT}dataStore"
    assert {e.get("name"): [v.text for v in e.iter(f"{DAT}value")] for e in root.iter(f"{DAT}entry")}["company"] \
        == ["Example Ltd"]


@pytest.mark.parametrize("path", ["billing", "/billing/"])
def test_constants_of_a_partition_are_named_relative_to_it(server, path):
    assert entries(server.request("GET", "constants", params={"path": path}).json()) == {"vat": ["0.2"]}


def test_constants_in_the_standard_form(server):
    answer = server.request("GET", "constants", params={"path": "billing"},
                            headers={**XML, "x-infinica-datastore-mode": "standard"})
    root = xml(answer)
    value = root.find(f"{DAT}values/{DAT}value")
    assert value.get("type") == "text/plain" and value.findtext(f"{DAT}content") == "0.2"
    entry = root.find(f"{DAT}entries/{DAT}entry")
    assert entry.get("name") == "vat" and entry.findtext(f"{DAT}value") == value.get("id")
    standard = server.request("GET", "constants", params={"path": "billing"},
                              headers={"x-infinica-datastore-mode": "standard"}).json()["dataStore"]
    assert "values" in standard and "entries" in standard
    error(server.request("GET", "constants", headers={"x-infinica-datastore-mode": "fancy"}), 400, "InvalidParameter")


@pytest.mark.parametrize("path", ["nope", "company", "billing/vat", "bill"])
def test_constants_of_an_unknown_partition_are_not_found(server, path):
    assert "constants partition" in error(server.request("GET", "constants", params={"path": path}), 404, "NotFound")
    xml_error(server.request("GET", "constants", params={"path": path}, headers=XML), 404, "NotFound")


# -- getFeatures ------------------------------------------------------------------------------------------
def test_features(server, request):
    answer = server.request("GET", "features")
    features = {f["name"]: f["state"] for f in answer.json()["features"]["feature"]}
    assert features["instantiate"] == "active" and features["execution"] == "active"
    assert features["cluster"] == ("disabled" if backend(request) == "sqlite" else "active")
    assert features["tasks"] == features["messaging"] == "disabled"
    root = xml(server.request("GET", "features", headers=XML))
    assert root.tag == f"{PE}features"
    assert {f.get("name"): f.get("state") for f in root.findall(f"{PE}feature")}["instantiate"] == "active"


# -- getMaintenanceLevel, setMaintenanceLevel --------------------------------------------------------------
def level(call) -> dict[str, Any]:
    answer = call("GET", "maintenance")
    assert answer.status_code == 200, answer.text
    return answer.json()["maintenanceLevel"]


def test_maintenance_level_is_normal(server):
    assert level(server.request) == {"id": "normal", "label": "Normal operation", "online": "allOnline"}
    root = xml(server.request("GET", "maintenance", headers=XML))
    assert root.tag == f"{PE}maintenanceLevel"
    assert (root.get("id"), root.get("online")) == ("normal", "allOnline")


def test_maintenance_levels_set_every_process_offline_and_online_again(server):
    held = waiting(server.request)
    try:
        nothing(server.request("PUT", "maintenance", data="maintenance", headers=TEXT))
        assert level(server.request)["id"] == "maintenance" and level(server.request)["online"] == "allOffline"
        assert snapshot_of(server.request, held["executionId"])["online"] is False
        assert snapshot_of(server.request, held["executionId"])["online"] is False
        online = server.request("PUT", f"processes/{held['executionId']}/online", data="true", headers=TEXT,
                                params={"timeout": "0"})
        assert online.status_code == 200, online.text
        assert snapshot_of(server.request, held["executionId"])["online"] is True
        # the level in force again: a repeatable PUT, its rule applied again (CONTRACT §10)
        nothing(server.request("PUT", "maintenance", data="maintenance", headers=TEXT))
        assert snapshot_of(server.request, held["executionId"])["online"] is False
        nothing(server.request("PUT", "maintenance", data="frozen\n", headers=TEXT))  # noChange
        assert snapshot_of(server.request, held["executionId"])["online"] is False
    finally:
        if level(server.request)["id"] != "normal":
            nothing(server.request("PUT", "maintenance", data="normal", headers=TEXT))
    assert level(server.request)["id"] == "normal"
    assert snapshot_of(server.request, held["executionId"])["online"] is True


def test_maintenance_level_refusals(server):
    assert "holiday" in error(server.request("PUT", "maintenance", data="holiday", headers=TEXT), 404, "NotFound")
    xml_error(server.request("PUT", "maintenance", data="holiday", headers={**TEXT, **XML}), 404, "NotFound")
    nothing(server.request("PUT", "maintenance", data="normal", headers=TEXT))  # the level in force: repeatable
    assert "levelId" in error(server.request("PUT", "maintenance", data="3", headers={"Content-Type": "application/json"}),
                              400, "InvalidParameter")
    error(server.request("PUT", "maintenance", data="normal", headers={"Content-Type": "application/xml"}), 415,
          "UnsupportedMediaType")
    error(server.request("PUT", "maintenance", headers=TEXT), 400, "InvalidParameter")
    assert level(server.request)["id"] == "normal"


def test_a_missing_level_is_named_as_the_spec_names_it(server):
    message = error(server.request("PUT", "maintenance", headers=TEXT), 400, "InvalidParameter")
    assert message.startswith("levelId")


# -- getModules ---------------------------------------------------------------------------------------------
def util_module(modules: dict[str, Any]) -> dict[str, Any]:
    return next(m for m in modules["modules"]["module"] if m["name"] == "util")


def test_modules_in_english_and_german(server):
    english = util_module(server.request("GET", "modules").json())
    assert english["version"] == "1.0" and english["description"].startswith("Small helpers")
    operations = {o["name"]: o for o in english["operations"]["operation"]}
    assert operations["uuid"]["description"] == "A new random UUID."
    assert operations["sha256"]["parameters"]["parameter"] == [{"name": "data", "value": "text or binary value"}]
    german = util_module(server.request("GET", "modules", params={"lang": "de"}).json())
    assert german["description"].startswith("Kleine Helfer")
    assert {o["name"]: o["description"] for o in german["operations"]["operation"]}["upper"] == "text in Großbuchstaben."
    assert util_module(server.request("GET", "modules", params={"lang": "fr"}).json())["description"] \
        .startswith("Small helpers")


def test_modules_in_xml(server):
    root = xml(server.request("GET", "modules", params={"lang": "de"}, headers=XML))
    util = next(m for m in root.findall(f"{PE}module") if m.get("name") == "util")
    assert util.findtext(f"{PE}description").startswith("Kleine Helfer")
    sha = next(o for o in util.iter(f"{PE}operation") if o.get("name") == "sha256")
    assert sha.find(f"{PE}parameters/{PE}parameter").get("name") == "data"


# -- getNodeState, getNodeStates ------------------------------------------------------------------------------
def test_node_state(server, node, request):
    state = node("GET", "nodeState").json()["nodeState"]
    assert state["engineId"] and state["online"] is True and isinstance(state["runningProcesses"], int)
    cluster = state["cluster"]
    assert cluster["rootNode"] == f"nodes/{state['engineId']}" and cluster["connectionStatus"] == "connected"
    if backend(request) == "sqlite":  # the only node, so the master, running every wait state handler
        assert cluster["master"] is True
        assert cluster["waitStateHandlers"]["handler"] == ["timers", "lostInstances", "watchers"]
    root = xml(node("GET", "nodeState", headers=XML))
    assert root.tag == f"{PE}nodeState" and root.get("engineId") == state["engineId"]
    assert root.get("online") == "true" and root.find(f"{PE}cluster").get("connectionStatus") == "connected"


def test_node_states_hold_the_answering_node(server, node):
    own = node("GET", "nodeState").json()["nodeState"]["engineId"]
    states = node("GET", "nodeStates").json()["nodeStates"]["nodeState"]
    assert own in [s["engineId"] for s in states]
    for state in states:
        assert {"engineId", "online", "runningProcesses", "cluster"} <= set(state)
    root = xml(node("GET", "nodeStates", headers=XML))
    assert root.tag == f"{PE}nodeStates" and own in [n.get("engineId") for n in root.findall(f"{PE}nodeState")]


def test_each_worker_is_a_node_of_its_own(server, request):
    """CONTRACT §9: each gunicorn worker is an engine node; a configured engine.node_id is made each
    worker's own (on PostgreSQL, where there are two of them)."""
    if backend(request) == "sqlite":
        pytest.skip("SQLite runs one worker")
    configured = settings_of(server)["engine"]["node_id"]
    assert requests.get(server.root("health/live"), timeout=30).json()["node"].startswith(configured)

    def ours() -> set[str]:
        states = server.request("GET", "nodeStates").json()["nodeStates"]["nodeState"]
        return {s["engineId"] for s in states if s["engineId"].startswith(configured)}

    assert settles(lambda: len(ours()) == 2), ours()  # two workers (config/gunicorn.conf.py)


def test_a_cluster_has_a_master_whatever_other_schemas_of_the_database_do(server, request, tmp_path):
    if backend(request) == "sqlite":
        pytest.skip("PostgreSQL only: on SQLite the one node is master")
    from sqlalchemy import create_engine, text

    from tests.support.common import PG_URL

    schema = f"pe_test_master_{uuid.uuid4().hex[:8]}"
    database = create_engine(PG_URL)
    other_cluster = database.connect()  # the master of a cluster in another schema holds its lock
    other_cluster.execute(text("SELECT pg_try_advisory_lock(7263552)"))
    other_cluster.commit()
    with database.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    fresh = None
    try:
        fresh = start_server(tmp_path, f"{PG_URL}?options=-csearch_path%3D{schema}")
        write_definition(repository(fresh), "tick.ipd", '<wait id="tick" duration="PT0.2S"/>')
        ticked = fresh.request("GET", "run", params={"processUri": "tick.ipd", "timeout": "5000"})
        assert ticked.json()["processExecutionSnapshot"]["state"] == "FINISHED"  # a timer fired
        assert any(s["cluster"]["master"] for s in fresh.request("GET", "nodeStates").json()["nodeStates"]["nodeState"])
    finally:
        if fresh is not None:
            fresh.stop()
        other_cluster.close()
        with database.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        database.dispose()


# -- listProcessDefinitions -----------------------------------------------------------------------------------
def test_process_definitions(server):
    uri = own_definition(server)
    listing = {d["uri"]: d for d in server.request("GET", "processDefinitions").json()["processDefinitions"]
               ["processDefinition"]}
    assert {"hold.ipd", "done.ipd", "echo.ipd", "greeting.ipd", "services/report.ipd", uri} <= set(listing)
    assert listing[uri]["name"] == "Alpha" and listing["greeting.ipd"]["name"] == "Greeting"
    assert "name" not in listing["done.ipd"]  # no name in the definition
    assert all(TIMESTAMP.match(d["changedAt"]) for d in listing.values())
    root = xml(server.request("GET", "processDefinitions", headers=XML))
    assert root.tag == f"{PE}processDefinitions"
    assert {d.get("uri"): d.get("name") for d in root.findall(f"{PE}processDefinition")}[uri] == "Alpha"


# -- Service Management -----------------------------------------------------------------------------------------
def test_services_are_listed_with_their_state(server):
    services = {s["id"]: s for s in server.request("GET", "services").json()["serviceConfigInfos"]["service"]}
    assert services["report"]["processUri"] == "services/report.ipd" and services["report"]["autostart"] is False
    assert services["report"]["state"] in ("running", "stopped")
    root = xml(server.request("GET", "services", headers=XML))
    assert root.tag == f"{PE}serviceConfigInfos"
    report = next(s for s in root.findall(f"{PE}service") if s.get("id") == "report")
    assert report.get("autostart") == "false" and report.get("state") in ("running", "stopped")


def test_a_service_never_started_has_no_snapshot(integrated):
    server = integrated.server
    services = {s["id"]: s for s in server.request("GET", "services").json()["serviceConfigInfos"]["service"]}
    assert services[integrated.service]["state"] == "stopped"
    assert services[integrated.service]["description"] == "Never started"
    nothing(server.request("GET", f"services/{integrated.service}"))
    nothing(server.request("GET", f"services/{integrated.service}", headers=XML))


def test_start_a_service_and_follow_it_to_its_end(server, request):
    if backend(request) == "sqlite":  # a fresh database: never started so far (on PostgreSQL others may have)
        nothing(server.request("GET", "services/report"))
    started = server.request("POST", "services/report/start")
    assert started.status_code == 200, started.text
    snapshot = started.json()["processExecutionSnapshot"]
    assert snapshot["definitionInfo"]["uri"] == "services/report.ipd"
    execution_id = snapshot["executionId"]
    current = server.request("GET", "services/report", params={"peek": "true"}).json()["processExecutionSnapshot"]
    assert current["executionId"] == execution_id
    ended = server.request("GET", f"processes/{execution_id}/wait", params={"timeout": "15000", "peek": "true",
                                                                             "inspectPipeline": "true"})
    ended_snapshot = ended.json()["processExecutionSnapshot"]
    assert ended_snapshot["state"] == "FINISHED"
    assert {e["name"]: e["value"] for e in ended_snapshot["pipeline"]["entry"]}["sum"] == ["55"]
    services = {s["id"]: s for s in server.request("GET", "services").json()["serviceConfigInfos"]["service"]}
    assert services["report"]["state"] == "stopped"
    root = xml(server.request("GET", "services/report", params={"peek": "true"}, headers=XML))
    assert root.tag == f"{PE}processExecutionSnapshot" and root.get("executionId") == execution_id
    again = server.request("POST", "services/report/start", headers=XML)
    assert xml(again).get("executionId") != execution_id  # a finished service starts anew
    server.request("GET", f"processes/{xml(again).get('executionId')}/wait", params={"timeout": "15000"})


@pytest.mark.parametrize("method, path", [("GET", "services/nope"), ("POST", "services/nope/start")])
def test_an_unknown_service_is_not_found(server, method, path):
    assert "nope" in error(server.request(method, path), 404, "NotFound")
    xml_error(server.request(method, path, headers=XML), 404, "NotFound")


# -- setEngineOnline ---------------------------------------------------------------------------------------------
def node_online(node: Node) -> bool:
    return node("GET", "nodeState").json()["nodeState"]["online"]


def back_online(server: Server, node: Node) -> None:
    """Every node online again: this one at once, the others (PostgreSQL) at their next heartbeat."""
    nothing(node("POST", "setOnline", params={"online": "true", "param": "all"}))
    configured = settings_of(server)["engine"]["node_id"]
    assert settles(lambda: all(s["online"] for s in node("GET", "nodeStates").json()["nodeStates"]["nodeState"]
                               if s["engineId"].startswith(configured)))


def test_set_this_node_offline_and_online(server, node):
    try:
        nothing(node("POST", "setOnline", params={"online": "false", "param": "self"}))
        assert node_online(node) is False
        assert error(node("GET", "run", params={"processUri": "done.ipd"}), 503, "EngineOffline")
        features = {f["name"]: f["state"] for f in node("GET", "features").json()["features"]["feature"]}
        assert features["execution"] == "inactive"
        nothing(node("POST", "setOnline", params={"online": "true", "param": "self"}))
        assert node_online(node) is True
        assert node("GET", "run", params={"processUri": "done.ipd"}).status_code == 200
    finally:
        back_online(server, node)


def test_set_all_nodes_offline_and_online(server, node):
    # "all" reaches the other nodes (PostgreSQL: the other worker) through the database, not at once:
    # should the connection have been answered by another worker, it follows within a heartbeat.
    try:
        nothing(node("POST", "setOnline", params={"online": "FALSE"}))  # param defaults to all
        assert settles(lambda: node_online(node) is False)
        nothing(node("POST", "setOnline", params={"online": "1", "param": "all"}))
        assert settles(lambda: node_online(node) is True)
    finally:
        back_online(server, node)


def test_set_specified_nodes_offline_and_online(server, node):
    own = node("GET", "nodeState").json()["nodeState"]["engineId"]
    try:
        nothing(node("POST", "setOnline", params={"online": "false", "param": "specified", "node": own}))
        assert node_online(node) is False
        nothing(node("POST", "setOnline", params={"online": "true", "param": "specified", "node": [own]}))
        assert node_online(node) is True
    finally:
        back_online(server, node)


@pytest.mark.parametrize("params, status, kind, named", [
    ({}, 400, "InvalidParameter", "online"),
    ({"online": "maybe"}, 400, "InvalidParameter", "online"),
    ({"online": "false", "param": "some"}, 400, "InvalidParameter", "param"),
    ({"online": "false", "param": "specified"}, 400, "InvalidParameter", "node"),
    ({"online": "false", "param": "specified", "node": "ghost-node"}, 404, "NotFound", "ghost-node"),
])
def test_set_online_refusals_change_nothing(server, node, params, status, kind, named):
    try:
        assert named in error(node("POST", "setOnline", params=params), status, kind)
        xml_error(node("POST", "setOnline", params=params, headers=XML), status, kind)
        assert node_online(node) is True
    finally:
        back_online(server, node)


# -- uncacheProcesses ---------------------------------------------------------------------------------------------
def test_uncache_processes_drops_the_definitions_of_the_selected_inactive_processes(server, node):
    uri = own_definition(server)
    done = node("GET", "run", params={"processUri": uri, "autoDispose": "never", "externalId": unique()})
    assert done.status_code == 200 and done.json()["processExecutionSnapshot"]["state"] == "FINISHED"
    execution_id = done.json()["processExecutionSnapshot"]["executionId"]
    retitle(repository(server), uri, "Alpha", "Omega")
    for filters in ({"executionId": execution_id, "states": "FAILED"}, {"executionId": execution_id, "health": "LOST"},
                    {"executionId": execution_id, "owner": "nobody"}, {"executionId": execution_id,
                                                                       "engineId": "no-such-node"},
                    {"executionId": execution_id, "timestamp": "2000-01-01T00:00:00.000Z"}):
        nothing(node("POST", "uncacheProcesses", params=filters))
        assert name_of(node, uri) == "Alpha", filters  # nothing selected: still cached
    nothing(node("POST", "uncacheProcesses", params={"executionId": [execution_id, "no-such-id"],
                                                     "states": "WAITING,FINISHED", "health": "OK",
                                                     "processUri": uri, "owner": "admin"}))
    assert name_of(node, uri) == "Omega"


@pytest.mark.parametrize("params, named", [({"states": "DONE"}, "states"), ({"states": "finished"}, "states"),
                                           ({"health": "SICK"}, "health"), ({"timestamp": "yesterday"}, "timestamp"),
                                           ({"processUri": "../outside.ipd"}, "processUri")])
def test_uncache_processes_refuses_bad_filters(server, params, named):
    assert error(server.request("POST", "uncacheProcesses", params=params), 400, "InvalidParameter") \
        .startswith(named)
    xml_error(server.request("POST", "uncacheProcesses", params=params, headers=XML), 400, "InvalidParameter")


# -- version ---------------------------------------------------------------------------------------------------
def test_version_is_plain_text(server):
    text = text_answer(server.request("GET", "version"))
    assert text == text_answer(server.request("GET", "version", headers=XML))
    assert text.startswith(f"process-engine {version('process-engine')} ") and platform.python_version() in text


# -- waitForNoRunningProcesses ------------------------------------------------------------------------------------
def test_wait_for_no_running_processes_counts_as_text(server, node, request):
    assert int(text_answer(node("GET", "waitForNoRunningProcesses", params={"timeout": "0"}))) >= 0
    spin = node("GET", "run", params={"processUri": "spin.ipd", "states": "RUNNING", "timeout": "10000",
                                      "externalId": unique()})
    assert spin.status_code == 200 and spin.json()["processExecutionSnapshot"]["state"] == "RUNNING"
    execution_id = spin.json()["processExecutionSnapshot"]["executionId"]
    try:
        started = time.monotonic()
        still = int(text_answer(node("GET", "waitForNoRunningProcesses", params={"timeout": "300"})))
        if backend(request) == "sqlite":  # the one node runs it (on PostgreSQL either worker may)
            assert still == 1 and time.monotonic() - started >= 0.25
    finally:
        killed = node("POST", f"processes/{execution_id}/terminate", params={"kill": "true", "timeout": "10000"})
        assert killed.status_code == 200 and killed.json()["processExecutionSnapshot"]["state"] == "TERMINATED"
    assert text_answer(node("GET", "waitForNoRunningProcesses", params={"timeout": "5000"})) == "0"
    error(node("GET", "waitForNoRunningProcesses", params={"timeout": "-2"}), 400, "InvalidParameter")


# -- Cluster Control ----------------------------------------------------------------------------------------------
def test_disconnect_and_connect_again(server, node):
    try:
        left = node("POST", "cluster/disconnect", params={"timeout": "1000"})
        assert left.status_code == 200, left.text
        state = left.json()["nodeState"]
        assert state["cluster"]["connectionStatus"] == "disconnected" and state["cluster"]["master"] is False
        assert state["runningProcesses"] == 0
        assert "not connected" in error(node("POST", "cluster/disconnect"), 409, "InvalidState")
        xml_error(node("POST", "cluster/disconnect", headers=XML), 409, "InvalidState")
        error(node("GET", "run", params={"processUri": "done.ipd"}), 503, "EngineOffline")
        assert node("GET", "nodeState").json()["nodeState"]["cluster"]["connectionStatus"] == "disconnected"

        joined = xml(node("POST", "cluster/connect", headers=XML))
        assert joined.tag == f"{PE}nodeState" and joined.get("engineId") == state["engineId"]
        assert joined.find(f"{PE}cluster").get("connectionStatus") == "connected"
        assert "connected already" in error(node("POST", "cluster/connect"), 409, "InvalidState")
        assert node("GET", "run", params={"processUri": "done.ipd"}).status_code == 200
    finally:
        node("POST", "cluster/connect")


def test_cluster_timeouts_are_checked(server, node):
    error(node("POST", "cluster/disconnect", params={"timeout": "soon"}), 400, "InvalidParameter")
    error(node("POST", "cluster/connect", params={"timeout": "-7"}), 400, "InvalidParameter")
    assert node("GET", "nodeState").json()["nodeState"]["cluster"]["connectionStatus"] == "connected"


# -- Diagnostic Operations -----------------------------------------------------------------------------------------
def test_sanity_runs_the_standard_checks(server, request):
    waiting(server.request)
    report = server.request("GET", "diagnostic/sanity").json()["sanityReport"]
    assert report["checks"]["check"] == STANDARD_CHECKS
    if backend(request) == "sqlite":  # on PostgreSQL the schema also holds what other modules left
        assert report["problems"]["problem"] == []
    root = xml(server.request("GET", "diagnostic/sanity", headers=XML))
    assert root.tag == f"{PE}sanityReport"
    assert [c.text for c in root.findall(f"{PE}checks/{PE}check")] == STANDARD_CHECKS
    assert root.find(f"{PE}problems") is not None


@pytest.mark.parametrize("params, checks", [
    ({"checks": "signal,waiter"}, ["signal", "waiter"]), ({"checks": ["execution", "SIGNAL"]}, ["execution", "signal"]),
    ({"checks": "noRunning"}, ["noRunning"]), ({"checks": "cleanState"}, ["cleanState"])])
def test_sanity_runs_the_checks_asked_for(server, params, checks):
    report = server.request("GET", "diagnostic/sanity", params=params).json()["sanityReport"]
    assert report["checks"]["check"] == checks
    assert all(p["check"] in checks for p in report["problems"]["problem"])


def test_sanity_reports_what_a_check_finds(server):
    held = waiting(server.request)
    report = server.request("GET", "diagnostic/sanity", params={"checks": "noRunning"}).json()["sanityReport"]
    mine = [p for p in report["problems"]["problem"] if p.get("executionId") == held["executionId"]]
    assert {p["check"] for p in mine} == {"noRunning"} and len(mine) == 2  # its saved position and wait state
    assert any("wait state" in p["value"] for p in mine)


def test_sanity_refuses_an_unknown_check(server):
    message = error(server.request("GET", "diagnostic/sanity", params={"checks": "waitState,bogus"}), 400,
                    "InvalidParameter")
    assert message.startswith("checks") and "bogus" in message and "waitState" in message
    xml_error(server.request("GET", "diagnostic/sanity", params={"checks": "bogus"}, headers=XML), 400,
              "InvalidParameter")


def telemetry(server: Server, **params) -> dict[str, Any]:
    answer = server.request("GET", "diagnostic/telemetry", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()["telemetryData"]


def test_telemetry_of_every_type(server):
    data = telemetry(server)
    assert set(data["types"]["type"]) == TELEMETRY_TYPES and len(data["types"]["type"]) == 10
    assert {i["type"] for i in data["items"]["item"]} <= TELEMETRY_TYPES


def test_telemetry_of_the_types_asked_for(server, node):
    held = waiting(node)
    data = node("GET", "diagnostic/telemetry", params={"types": "waitstate,THREAD_POOL"}).json()["telemetryData"]
    assert data["types"]["type"] == ["WAITSTATE", "THREAD_POOL"]
    items = {(i["type"], i["id"]): {v["name"]: v["value"] for v in i["value"]} for i in data["items"]["item"]}
    assert items[("WAITSTATE", held["executionId"])]["kind"] == "signal"
    assert items[("WAITSTATE", held["executionId"])]["element"] == "root.hold"
    assert int(items[("THREAD_POOL", "default")]["size"]) >= 1
    root = xml(node("GET", "diagnostic/telemetry", params={"types": ["CACHE"]}, headers=XML))
    assert root.tag == f"{PE}telemetryData"
    assert [t.text for t in root.findall(f"{PE}types/{PE}type")] == ["CACHE"]
    cache = {i.get("id"): i for i in root.findall(f"{PE}items/{PE}item")}
    assert "parsedDefinitions" in cache
    assert {v.get("name") for v in cache["parsedDefinitions"].findall(f"{PE}value")} >= {"entries"}


def test_telemetry_refuses_an_unknown_type(server):
    message = error(server.request("GET", "diagnostic/telemetry", params={"types": "WAITSTATE,NOPE"}), 400,
                    "InvalidParameter")
    assert message.startswith("types") and "NOPE" in message


def test_garbage_collect(server):
    nothing(server.request("GET", "diagnostic/garbageCollect"))
    nothing(server.request("GET", "diagnostic/garbageCollect", params={"timeout": "0"}))
    nothing(server.request("GET", "diagnostic/garbageCollect", params={"timeout": "5000"}, headers=XML))
    error(server.request("GET", "diagnostic/garbageCollect", params={"timeout": "-5"}), 400, "InvalidParameter")


# -- security (the `secured` fixture of tests/conftest.py) -------------------------------------------------------
ADMINISTRATION = [("GET", "version"), ("GET", "brokerUrl"), ("GET", "constants"), ("GET", "features"),
                  ("GET", "maintenance"), ("PUT", "maintenance"), ("GET", "modules"), ("GET", "nodeState"),
                  ("GET", "nodeStates"), ("GET", "processDefinitions"), ("GET", "services"),
                  ("GET", "services/report"), ("POST", "services/report/start"), ("POST", "setOnline"),
                  ("POST", "clearCache"), ("POST", "uncacheProcesses"), ("GET", "waitForNoRunningProcesses"),
                  ("POST", "cluster/connect"), ("POST", "cluster/disconnect"), ("GET", "diagnostic/sanity"),
                  ("GET", "diagnostic/telemetry"), ("GET", "diagnostic/garbageCollect"), ("GET", "taskManagerUrl")]
OPERATION_NAMES = {"version": "version", "brokerUrl": "getBrokerUri", "constants": "getConstants",
                   "features": "getFeatures", "GET maintenance": "getMaintenanceLevel",
                   "PUT maintenance": "setMaintenanceLevel", "modules": "getModules", "nodeState": "getNodeState",
                   "nodeStates": "getNodeStates", "processDefinitions": "listProcessDefinitions",
                   "services": "listServices", "services/report": "getServiceSnapshot",
                   "services/report/start": "startService", "setOnline": "setEngineOnline",
                   "clearCache": "clearCache", "uncacheProcesses": "uncacheProcesses",
                   "waitForNoRunningProcesses": "waitForNoRunningProcesses", "cluster/connect": "clusterConnect",
                   "cluster/disconnect": "clusterDisconnect", "diagnostic/sanity": "checkSanity",
                   "diagnostic/telemetry": "getTelemetryData", "diagnostic/garbageCollect": "garbageCollect",
                   "taskManagerUrl": "getTaskManagerUrl"}


def test_without_credentials_the_service_challenges(secured):
    for method, path, params in (("GET", "version", {}), ("GET", "nodeState", {}), ("POST", "clearCache", {}),
                                 ("GET", "run", {"processUri": "done.ipd"}), ("GET", "processes/no-such-id", {})):
        answer = requests.request(method, secured.url(path), params=params, timeout=30)
        assert error(answer, 401, "Unauthenticated")
        assert answer.headers["WWW-Authenticate"] == 'Basic realm="process-engine"'
    answer = requests.get(secured.url("version"), headers=XML, timeout=30)
    xml_error(answer, 401, "Unauthenticated")
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="process-engine"'
    assert requests.get(secured.root("metrics"), timeout=30).status_code == 401


@pytest.mark.parametrize("method, path, kwargs", [
    ("GET", "run", {"params": {"processUri": "done.ipd", "timeout": "soon"}}),
    ("POST", "setOnline", {"params": {"online": "maybe"}}),
    ("POST", "run", {"params": {"processUri": "done.ipd"}, "data": "a,b", "headers": {"Content-Type": "text/csv"}}),
], ids=["bad-query", "bad-admin-query", "bad-body-type"])
def test_without_credentials_nothing_but_the_challenge_is_answered(secured, method, path, kwargs):
    answer = requests.request(method, secured.url(path), timeout=30, **kwargs)
    error(answer, 401, "Unauthenticated")
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="process-engine"'


def test_a_wrong_password_is_refused_like_an_unknown_user(secured):
    wrong = requests.get(secured.url("version"), headers=basic("root", "guess"), timeout=30)
    unknown = requests.get(secured.url("version"), headers={"Authorization": "Basic " + base64.b64encode(
        b"mallory:root-secret").decode()}, timeout=30)
    error(wrong, 401, "Unauthenticated")
    assert wrong.json() == unknown.json() and unknown.status_code == 401
    assert wrong.headers["WWW-Authenticate"] == unknown.headers["WWW-Authenticate"] == 'Basic realm="process-engine"'
    for header in ("Bearer abc", "Basic", "Basic not-base64!", "Basic " + base64.b64encode(b"no-colon").decode()):
        error(requests.get(secured.url("version"), headers={"Authorization": header}, timeout=30), 401,
              "Unauthenticated")


def test_the_administrator_may_administer(secured):
    assert text_answer(requests.get(secured.url("version"), headers=basic("root"), timeout=30))
    assert requests.get(secured.url("nodeState"), headers=basic("root"), timeout=30).status_code == 200
    assert requests.get(secured.root("metrics"), headers=basic("root"), timeout=30).status_code == 200


@pytest.mark.parametrize("method, path", ADMINISTRATION, ids=[f"{m} {p}" for m, p in ADMINISTRATION])
def test_other_users_may_not_administer(secured, method, path):
    kwargs: dict[str, Any] = {"headers": basic("clerk"), "timeout": 30}
    if (method, path) == ("PUT", "maintenance"):
        kwargs.update(data="maintenance", headers={**basic("clerk"), **TEXT})
    if path == "setOnline":
        kwargs["params"] = {"online": "false", "param": "all"}
    answer = requests.request(method, secured.url(path), **kwargs)
    assert answer.status_code == 403, answer.text
    body = answer.json()
    operation = OPERATION_NAMES.get(f"{method} {path}") or OPERATION_NAMES[path]
    assert body["type"] == "AuthorizationException"
    assert (body["userId"], body["permissionName"], body["resourceName"], body["resourceId"]) == \
        ("clerk", "admin", "operation", operation)
    root = xml(requests.request(method, secured.url(path), **{**kwargs, "headers": {**kwargs["headers"], **XML}}))
    assert (root.get("type"), root.get("userId"), root.get("resourceId")) == ("AuthorizationException", "clerk",
                                                                                operation)


def test_a_refused_call_changed_nothing(secured):
    root = basic("root")
    assert requests.get(secured.url("maintenance"), headers=root, timeout=30).json()["maintenanceLevel"]["id"] == \
        "normal"
    assert requests.get(secured.url("nodeState"), headers=root, timeout=30).json()["nodeState"]["online"] is True
    assert requests.get(secured.url("nodeState"), headers=root, timeout=30).json()["nodeState"]["cluster"][
        "connectionStatus"] == "connected"


def test_other_users_work_on_processes(secured):
    done = requests.get(secured.url("run"), params={"processUri": "done.ipd"}, headers=basic("clerk"), timeout=30)
    assert done.status_code == 200 and done.json()["processExecutionSnapshot"]["owner"] == "clerk"


@pytest.mark.parametrize("path", ["health/live", "health/ready", "rest/openapi.json"])
def test_health_and_the_openapi_document_need_no_credentials(secured, path):
    answer = requests.get(secured.root(path), timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json")
