"""`process-engine run` and `validate`, as a user types them: every sample prints its end snapshot."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

from tests.support.common import ROOT, SAMPLES

DAT = "{http://www.infinica.com/datastore}"


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "config.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def pipeline(out: str) -> dict[str, list[str]]:
    snapshot = json.loads(out)["processExecutionSnapshot"]
    return {e["name"]: e.get("value", []) for e in snapshot["pipeline"]["entry"]}


@pytest.mark.parametrize("sample, args, entry, expected", [
    ("greeting.ipd", ["--param", "name=Ada"], "greeting", ["Hello, Ada!"]),
    ("approval.ipd", ["--param", "amount=5", "--param", "deadline=PT0.2S"], "status", ["expired: no decision in time"]),
    ("loop.ipd", ["--param", "count=4"], "sum", ["10"]),
    ("handled-failure.ipd", [], "stage", ["compensated"]),
    ("timer.ipd", ["--param", "delay=PT0.2S"], "wokeAt", None),
    ("order.ipd", ["--param", "customers=A", "--param", "customers=B"], "all", ["Hello, A!", "Hello, B!"]),
])
def test_each_sample_prints_its_end_snapshot(sample, args, entry, expected):
    done = cli("run", str(SAMPLES / sample), *args)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["processExecutionSnapshot"]["state"] == "FINISHED"
    values = pipeline(done.stdout)[entry]
    assert values == expected if expected is not None else len(values) == 1


def test_failed_run_exits_1_and_xml_format(tmp_path):
    done = cli("run", str(SAMPLES / "handled-failure.ipd"), "--param", "failHard=true", "--format", "xml")
    assert done.returncode == 1
    root = etree.fromstring(done.stdout.encode())
    assert root.get("state") == "FAILED" and root.find("{*}exceptionReport").get("type") == "Unrecoverable"
    assert "[error] root.hard.giveUp" in done.stderr  # the process log goes to standard error


def test_a_process_waiting_for_a_caller_exits_3(tmp_path):
    (tmp_path / "w.ipd").write_text('<process xmlns="http://www.infinica.com/process-engine" version="4">'
                                    '<startElement id="s"/><wait id="hold"/></process>')
    done = cli("run", str(tmp_path / "w.ipd"))
    assert done.returncode == 3 and json.loads(done.stdout)["processExecutionSnapshot"]["state"] == "WAITING"


@pytest.mark.parametrize("form", ["simple-xml", "standard-xml", "simple-json", "standard-json"])
def test_params_file_in_each_form(tmp_path, form):
    documents = {
        "simple-xml": '<dataStore xmlns="http://www.infinica.com/datastore"><entry name="name" type="text/plain">'
                      '<value>Bo</value></entry></dataStore>',
        "standard-xml": '<dataStore xmlns="http://www.infinica.com/datastore"><values><value id="1" type="text/plain">'
                        '<content>Bo</content></value></values><entries><entry name="name"><value>1</value></entry>'
                        '</entries></dataStore>',
        "simple-json": '{"dataStore": {"entry": {"name": "name", "type": "text/plain", "value": ["Bo"]}}}',
        "standard-json": '{"dataStore": {"values": {"value": [{"type": "text/plain", "id": "1", "content": '
                         '{"value": ["Bo"]}}]}, "entries": {"entry": [{"name": "name", "value": ["1"]}]}}}',
    }
    store = tmp_path / "params"
    store.write_text(documents[form])
    done = cli("run", str(SAMPLES / "greeting.ipd"), "--params-file", str(store))
    assert done.returncode == 0, done.stderr
    assert pipeline(done.stdout)["greeting"] == ["Hello, Bo!"]


def test_standard_datastore_mode_keeps_value_ids():
    done = cli("run", str(SAMPLES / "greeting.ipd"), "--datastore-mode", "standard")
    body = json.loads(done.stdout)["processExecutionSnapshot"]["pipeline"]
    assert {"values", "entries"} <= set(body) and body["values"]["value"][0]["id"]


@pytest.mark.parametrize("args, message", [
    (["run", "missing.ipd"], "NotFound"),
    (["run", str(SAMPLES / "approval.ipd")], "amount"),
    (["run", str(SAMPLES / "greeting.ipd"), "--param", "nameless"], "NAME=VALUE"),
    (["run", str(SAMPLES / "greeting.ipd"), "--params-file", "/nonexistent"], "/nonexistent"),
])
def test_bad_input_exits_2(args, message):
    done = cli(*args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_bad_params_file_exits_2(tmp_path):
    (tmp_path / "p.json").write_text('{"dataStore": {"entry": [{"type": "text/plain"}]}}')
    done = cli("run", str(SAMPLES / "greeting.ipd"), "--params-file", str(tmp_path / "p.json"))
    assert done.returncode == 2 and "InvalidDataStore" in done.stderr


def test_validate_reports_and_refuses(tmp_path):
    done = cli("validate", str(SAMPLES / "approval.ipd"))
    result = json.loads(done.stdout)["processValidationResult"]
    assert done.returncode == 0 and result["name"] == "Approval"
    assert {"name": "amount", "type": "text/plain", "required": True} in result["parameters"]["parameter"]
    (tmp_path / "bad.ipd").write_text('<process xmlns="http://www.infinica.com/process-engine" version="4">\n'
                                      '  <startElement id="s"/>\n  <wait id="w" duration="soon"/>\n</process>')
    bad = cli("validate", str(tmp_path / "bad.ipd"))
    assert bad.returncode == 2 and "line 3, column 3" in bad.stderr and "duration" in bad.stderr


def test_hash_password_prints_an_argon2id_hash_that_verifies():
    done = subprocess.run([sys.executable, "-m", "config.cli", "hash-password"], cwd=ROOT, input="s3cret\n",
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("$argon2id$") and "s3cret" not in done.stdout
    from engine.security.authentication import HASHER
    assert HASHER.verify(done.stdout.strip(), "s3cret")
    empty = subprocess.run([sys.executable, "-m", "config.cli", "hash-password"], cwd=ROOT, input="\n",
                           capture_output=True, text=True, timeout=60)
    assert empty.returncode == 2


def test_db_upgrade_brings_an_empty_database_to_the_engines_schema_and_is_repeatable(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    settings = tmp_path / "settings.toml"
    settings.write_text(f'[storage]\nurl = "{url}"\n')
    for _ in range(2):  # a second upgrade finds nothing to do
        done = cli("--config", str(settings), "db", "upgrade")
        assert done.returncode == 0 and "is up to date" in done.stdout, done.stderr
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        revision = conn.execute("SELECT version_num FROM alembic_version").fetchone()[0]
    assert {"process_instances", "process_log", "wait_states", "definitions"} <= tables
    head = sorted(p.name for p in (ROOT / "engine/storage/migrations/versions").glob("0*.py"))[-1]
    assert head.startswith(revision + "_"), (revision, head)
