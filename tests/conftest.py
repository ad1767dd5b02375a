"""Shared fixtures: every storage-touching test runs on a real SQLite file and on a real PostgreSQL.

PostgreSQL comes from PE_TEST_POSTGRES_URL (default: the local server, database process_engine_test,
which `make test` creates). Each test session works in a schema of its own; tables are emptied
between tests. If the server cannot be reached the PostgreSQL tests fail — they are never skipped
silently; set PE_TEST_SKIP_POSTGRES=1 to leave them out on purpose.

The REST, SOAP and contract tests share the served-process fixtures (`server`, `soap`, `secured`); what
the test modules import (helpers, constants, strategies) is in tests/support/.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import create_engine, text

from config.settings import Settings, load_settings
from engine import operations as ops
from engine.security.authentication import hash_password
from engine.runtime.node import ProcessEngine

# Before tests.support is first imported: the shared helpers' asserts then explain a failure as a test's do.
pytest.register_assert_rewrite("tests.support")

from tests.support.common import PG_URL, SAMPLES, SKIP_PG
from tests.support.server import SERVICES, USERS, Server, sqlite_server, start_server
from tests.support.soap import Soap

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def pg_schemas() -> Iterator[Callable[[], str]]:
    """Makes URLs whose connections work in a fresh schema of their own; all are dropped at the end.

    A served engine (module-scoped) gets a schema of its own: the session's schema is emptied before
    every function-scoped test, and a TRUNCATE beside a live server's heartbeat deadlocks and pulls
    its tables from under it."""
    if SKIP_PG:
        pytest.skip("PE_TEST_SKIP_POSTGRES=1")
    admin = create_engine(PG_URL)
    made: list[str] = []
    separator = "&" if "?" in PG_URL else "?"

    def new() -> str:
        schema = f"pe_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        try:
            with admin.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:  # fail loudly: PostgreSQL tests are part of the suite
            pytest.fail(f"PostgreSQL at {PG_URL} is not usable ({exc}); run `bash tests/ensure_postgres.sh`")
        made.append(schema)
        return f"{PG_URL}{separator}options=-csearch_path%3D{schema}"

    yield new
    with admin.begin() as conn:
        for schema in made:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def pg_schema_url(pg_schemas: Callable[[], str]) -> str:
    """The session's schema for function-scoped tests, emptied before each (see `storage_url`)."""
    return pg_schemas()


def _empty_tables(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'engine.db'}"
    url = request.getfixturevalue("pg_schema_url")
    _empty_tables(url)
    return url


@pytest.fixture
def make_settings(storage_url: str) -> Callable[..., Settings]:
    """Settings on the test's database and the sample repository, tuned for quick tests."""
    def build(repository: Path | str = SAMPLES, **sections: dict[str, Any]) -> Settings:
        base = load_settings({})
        engine = {"node_id": f"test-{uuid.uuid4().hex[:8]}", "timer_poll_ms": 100, "max_timeout_ms": 20000,
                  "save_interval_ms": 200, "thread_pools": {"default": 4, "batch": 1}}
        engine.update(sections.pop("engine", {}))
        storage = {"url": storage_url, **sections.pop("storage", {})}
        sections.setdefault("services", ())  # the sample services would start in every test engine
        return base.with_overrides(storage=storage, repository={"path": str(repository)}, engine=engine,
                                   cluster={"heartbeat_ms": 200, "lost_after_ms": 1500}, **sections)
    return build


@pytest.fixture
def engine_factory(make_settings: Callable[..., Settings]) -> Iterator[Callable[..., ProcessEngine]]:
    """Starts engines on the test's database; every one still running is stopped afterwards."""
    started: list[ProcessEngine] = []

    def start(repository: Path | str = SAMPLES, **sections: dict[str, Any]) -> ProcessEngine:
        pe = ops.new_engine(make_settings(repository, **sections)).start()
        started.append(pe)
        return pe

    yield start
    for pe in started:
        pe.stop()


@pytest.fixture
def pe(engine_factory: Callable[..., ProcessEngine]) -> ProcessEngine:
    return engine_factory()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty repository folder; write definitions into it with `write_definition`."""
    folder = tmp_path / "repo"
    folder.mkdir()
    return folder


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `process-engine serve` per test module and database (tests/support/server.py), for the REST
    and SOAP tests: the tests of a module share it, and filter by their own externalIds. A module may add
    settings of its own as TOML in `SERVER_SETTINGS` (the history's tests keep everything: level full)."""
    folder = tmp_path_factory.mktemp("server")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'engine.db'}"
    else:
        url = request.getfixturevalue("pg_schemas")()
    running = start_server(folder, url, SERVICES + getattr(request.module, "SERVER_SETTINGS", ""))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def soap(server: Server) -> Soap:
    """zeep built from the WSDL the module's server serves."""
    return Soap(server)


@pytest.fixture(scope="module")
def secured(tmp_path_factory) -> Iterator[Server]:
    """A server on SQLite whose accounts are USERS: every call needs credentials."""
    users = "".join(f'[[auth.users]]\nname = "{name}"\npassword_hash = "{hash_password(password)}"\n'
                    f"roles = {roles!r}\n".replace("'", '"') for name, (password, roles) in USERS.items())
    with sqlite_server(tmp_path_factory, "secured", SERVICES + users) as running:
        yield running


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A test against a served engine that fails shows the end of that server's log: what a CI run
    prints is then enough to tell a fault inside the service from one in the test."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and call.when == "call":
        for name, served in getattr(item, "funcargs", {}).items():
            log = getattr(served, "log", None)
            if hasattr(served, "process") and isinstance(log, Path) and log.exists():
                tail = log.read_text(errors="replace").splitlines()[-80:]
                report.sections.append((f"{name} log (last 80 lines)", "\n".join(tail)))
