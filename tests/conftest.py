"""Shared fixtures: every storage-touching test runs on a real SQLite file and on a real PostgreSQL.

PostgreSQL comes from PE_TEST_POSTGRES_URL (default: the local server, database process_engine_test,
which `make test` creates). Each test session works in a schema of its own; tables are emptied
between tests. If the server cannot be reached the PostgreSQL tests fail — they are never skipped
silently; set PE_TEST_SKIP_POSTGRES=1 to leave them out on purpose.
"""
from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from sqlalchemy import create_engine, text

from config.settings import Settings, load_settings
from engine.runtime.engine import ProcessEngine

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "config" / "processes"
PG_URL = os.environ.get("PE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/process_engine_test")
SKIP_PG = os.environ.get("PE_TEST_SKIP_POSTGRES") == "1"
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
        pe = ProcessEngine(make_settings(repository, **sections)).start()
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


def write_definition(folder: Path, name: str, body: str, params: str = "", constants: str = "",
                     title: str | None = None) -> str:
    """Write a definition whose steps are `body` (after a startElement) and return its URI."""
    name_attr = f' name="{title}"' if title else ""
    text_ = (f'<process xmlns="http://www.infinica.com/process-engine" version="4"{name_attr}>'
             f"{'<parameters>' + params + '</parameters>' if params else ''}"
             f"{'<constants>' + constants + '</constants>' if constants else ''}"
             f'<startElement id="start"/>{body}</process>')
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text_)
    return name


def settles(condition: Callable[[], Any], seconds: float = 10.0) -> Any:
    """The first truthy value of `condition()` within `seconds`, else False: for what the engine does
    just after it commits (a driver thread's bookkeeping, the housekeeper's next round)."""
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value or False
        time.sleep(0.01)


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
