"""The served OpenAPI document in the hands of REST users: two linters find no error in it, two client
generators take it whole — openapi-python-client (Python) and @hey-api/openapi-ts (TypeScript, which must
then compile) — without a warning and with every operation, and the generated Python client drives the
service through its typed models only: a run with inputs whose pipeline it reads, a query with `not` and
paging, a typed error. On SQLite and PostgreSQL (the `server` fixture of tests/conftest.py).

openapi-python-client writes JSON, multipart and binary bodies only; it is run with the configuration the
project ships for it (rest/clients/openapi-python-client.yaml), which hands the XML and text/plain
alternatives over as bytes. The npm tools are pinned in tests/rest/node/package-lock.json and installed
with `npm ci` on first use (tests/support/toolkits.py).
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest
import requests

from tests.support.common import ROOT
from tests.support.server import unique
from tests.support.toolkits import npm_ci

NODE_DIR = Path(__file__).resolve().parent / "node"
CONFIG = ROOT / "rest" / "clients" / "openapi-python-client.yaml"
PACKAGE = "process_engine_client"


def served_document(server) -> dict[str, Any]:
    return requests.get(server.url("openapi.json"), timeout=30).json()


def operation_ids(document: dict[str, Any]) -> set[str]:
    return {op["operationId"] for item in document["paths"].values() for op in item.values()}


def _key(document: dict[str, Any]) -> str:
    """The document but for its server URL (every test server serves the same document on its own port)."""
    return hashlib.sha256(json.dumps({**document, "servers": []}, sort_keys=True).encode()).hexdigest()


def _run(command: list[str], timeout: int, **kwargs: Any) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"{command[0]} did not finish in {timeout} s:\n{expired.stdout}\n{expired.stderr}")


# -- generation, once per document ----------------------------------------------------------------------
@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """For a document: the folder of its saved copy, the Python client's folder and the generators' output."""
    done: dict[str, dict[str, Any]] = {}

    def generate(document: dict[str, Any]) -> dict[str, Any]:
        key = _key(document)
        if key not in done:
            folder = tmp_path_factory.mktemp("clients")
            source = folder / "openapi.json"
            source.write_text(json.dumps(document))
            env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
            python = _run([str(Path(sys.executable).parent / "openapi-python-client"), "generate", "--path", str(source),
                           "--meta", "none", "--output-path", str(folder / PACKAGE), "--config", str(CONFIG)],
                          timeout=300, env=env)
            done[key] = {"folder": folder, "source": source, "python": python}
        return done[key]

    return generate


@pytest.fixture(scope="module")
def client_of_server(server, generated) -> dict[str, Any]:
    return generated(served_document(server))


@pytest.fixture(scope="module")
def api(client_of_server, server) -> Any:
    """The generated Python package, imported, with a client on this module's server."""
    folder = str(client_of_server["folder"])
    if folder not in sys.path:
        sys.path.insert(0, folder)
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]  # a package generated for another document
    package = importlib.import_module(PACKAGE)
    package.client = package.Client(base_url=server.root("").rstrip("/"), raise_on_unexpected_status=True,
                                     timeout=60)
    return package


# -- the document --------------------------------------------------------------------------------------
def test_redocly_finds_no_error_with_its_recommended_rules(server, client_of_server):
    redocly = NODE_DIR / "node_modules" / ".bin" / "redocly"
    npm_ci(NODE_DIR, "@redocly")
    done = _run([str(redocly), "lint", str(client_of_server["source"]), "--extends", "recommended", "--format",
                 "json"], timeout=300, cwd=NODE_DIR)
    report = json.loads(done.stdout[done.stdout.index("{"):])
    errors = [p for p in report["problems"] if p["severity"] == "error"]
    assert errors == [], json.dumps(errors, indent=1)[:4000]
    warned = {(p["ruleId"], p["location"][0]["pointer"]) for p in report["problems"]}
    # the health probes answer 200 or 503 and nothing else: no 4xx to describe
    assert {rule for rule, _ in warned} <= {"operation-4xx-response"}, warned
    assert all("health" in pointer for _, pointer in warned), warned


def test_openapi_python_client_generates_every_operation_without_a_warning(server, client_of_server):
    done = client_of_server["python"]
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert not re.search(r"warning|error|unsupported|skipp", output, re.IGNORECASE), output
    modules = {path.stem for path in (client_of_server["folder"] / PACKAGE / "api").rglob("*.py")}
    snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() for name in operation_ids(served_document(server))}
    assert snake <= modules, snake - modules


def test_hey_api_generates_a_typescript_client_that_compiles(server, client_of_server, tmp_path):
    npm_ci(NODE_DIR, "@hey-api")
    tools = NODE_DIR / "node_modules" / ".bin"
    done = _run([str(tools / "openapi-ts"), "-i", str(client_of_server["source"]), "-o", str(tmp_path / "client")],
                timeout=300, cwd=NODE_DIR)
    assert done.returncode == 0 and not re.search(r"warn|error", done.stdout + done.stderr, re.IGNORECASE), \
        done.stdout + done.stderr
    sdk = (tmp_path / "client" / "sdk.gen.ts").read_text()
    exported = set(re.findall(r"^export const (\w+)", sdk, re.MULTILINE))
    assert operation_ids(served_document(server)) <= exported
    (tmp_path / "client" / "tsconfig.json").write_text(json.dumps({"compilerOptions": {
        "target": "ES2022", "module": "ESNext", "moduleResolution": "Bundler", "strict": True, "noEmit": True,
        "lib": ["ES2022", "DOM", "DOM.Iterable"]}, "include": ["**/*.ts"]}))
    compiled = _run([str(tools / "tsc"), "-p", str(tmp_path / "client")], timeout=300, cwd=NODE_DIR)
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr


# -- the Python client's typed models, against the service -----------------------------------------------
def test_a_run_with_inputs_reads_its_pipeline_through_the_models(api):
    from process_engine_client.api.lifecycle import run
    from process_engine_client.models import AutoDisposeMode, DataStore, DataStoreDocument, ExecutionState, SimpleEntry

    store = DataStoreDocument(data_store=DataStore(entry=[SimpleEntry(name="in", type_="text/plain", value=["Zed"])]))
    answer = run.sync(client=api.client, body=store, process_uri="echo.ipd", external_id=unique(),
                      auto_dispose=AutoDisposeMode.NEVER)
    snapshot = answer.process_execution_snapshot
    assert snapshot.state is ExecutionState.FINISHED and snapshot.auto_dispose is AutoDisposeMode.NEVER
    entries = {entry.name: entry.value for entry in snapshot.pipeline.entry}
    assert entries == {"in": ["Zed"], "out": ["echo Zed"]}


def test_a_large_data_store_goes_through_run_and_back_through_the_models(api):
    """2 MB each way: the body is spooled by the service, and the answer comes in chunks, with no length."""
    from process_engine_client.api.lifecycle import run
    from process_engine_client.models import DataStore, DataStoreDocument, SimpleEntry

    sent = {f"e{n}": [f"{n} " + "x" * 800, "é <&>"] for n in range(2_500)}
    store = DataStoreDocument(data_store=DataStore(entry=[SimpleEntry(name=name, type_="text/plain", value=values)
                                                         for name, values in sent.items()]))
    answer = run.sync_detailed(client=api.client, body=store, process_uri="done.ipd")
    assert len(answer.content) > 2 << 20 and "content-length" not in answer.headers
    snapshot = answer.parsed.process_execution_snapshot
    assert {entry.name: entry.value for entry in snapshot.pipeline.entry} == sent


def test_a_run_by_get_takes_its_inputs_as_in_parameters(api):
    from process_engine_client.api.lifecycle import run_by_get
    from process_engine_client.models import RunByGetInputs

    inputs = RunByGetInputs.from_dict({"in.in": "Ann"})
    snapshot = run_by_get.sync(client=api.client, process_uri="echo.ipd", inputs=inputs).process_execution_snapshot
    assert {entry.name: entry.value for entry in snapshot.pipeline.entry}["out"] == ["echo Ann"]


def test_a_query_with_not_and_paging_through_the_models(api):
    from process_engine_client.api.lifecycle import run
    from process_engine_client.api.state_queries import count_executions, find_executions
    from process_engine_client.models import (AutoDisposeMode, ExecutionState, ParamValues, Query, QueryDocument,
                                              QueryField, QueryNode, QueryNodes, QueryOperation, QueryParam,
                                              QuerySort, SortCriterion)

    external = unique()
    ran = [run.sync(client=api.client, process_uri=uri, external_id=external, auto_dispose=AutoDisposeMode.NEVER)
           .process_execution_snapshot for uri in ("done.ipd", "fail.ipd", "done.ipd")]
    assert [s.state for s in ran] == [ExecutionState.FINISHED, ExecutionState.FAILED, ExecutionState.FINISHED]
    mine = QueryParam(field=QueryField.EXTERNALID, operation=QueryOperation.EQUALS, values=ParamValues(value=[external]))
    failed = QueryParam(field=QueryField.STATE, operation=QueryOperation.EQUALS, values=ParamValues(value=["FAILED"]))
    newest_first = QuerySort(criterion=[SortCriterion(field=QueryField.CREATEDAT, ascending=False)])

    def page(offset: int) -> Any:
        query = Query(and_=QueryNodes(param=[mine], not_=[QueryNode(param=failed)]), sort=newest_first,
                      offset=offset, limit=1)
        return find_executions.sync_detailed(client=api.client, body=QueryDocument(query=query))

    first, second, third = page(0), page(1), page(2)
    assert [first.headers["X-Total-Count"], second.headers["X-Total-Count"]] == ["2", "2"]
    assert [s.execution_id for s in first.parsed.process_execution_snapshots.process_execution_snapshot] == \
        [ran[2].execution_id]
    assert [s.execution_id for s in second.parsed.process_execution_snapshots.process_execution_snapshot] == \
        [ran[0].execution_id]
    assert third.parsed.process_execution_snapshots.process_execution_snapshot == []
    counted = count_executions.sync(client=api.client, body=QueryDocument(query=Query(param=mine)))
    assert counted.count == 3


def test_an_error_is_typed_through_the_models(api):
    from process_engine_client.api.state_queries import get_process_snapshot
    from process_engine_client.models import Error

    answer = get_process_snapshot.sync_detailed(client=api.client, execution_id="no-such-execution")
    assert answer.status_code == 404 and isinstance(answer.parsed, Error)
    assert answer.parsed.type_ == "NotFound" and "no-such-execution" in answer.parsed.message
