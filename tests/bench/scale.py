"""`make bench`'s scale section: findExecutions at a million instances on PostgreSQL and SQLite (issue 15).

Two schemas of realistic instances, loaded with `INSERT … SELECT generate_series`: 1,000,000 and 10,000
rows, 70 % FINISHED, 15 % WAITING, 13 % FAILED, 2 % RUNNING, 20 processUris, 200 owners, unique
externalIds, createdAt over 90 days. One `process-engine serve` per schema answers the issue's query
shapes over REST; the figures are p50 latencies, each shape taking turns on the two servers, beside the
same page's SQL sent raw through psycopg2 to the 1M schema. Idle CPU, over the same seconds with no
caller: the 1M server's worker and its PostgreSQL sessions against the 10k server's (its 20,000 RUNNING
instances were claimed by a node long gone: the master marks them LOST at once, and they stay so); and a
SQLite node holding 100,000 instances waiting for a signal against one holding none. The schemas are
dropped at the end. Then the same shapes on two SQLite files of the same realistic rows (1M and 10k),
beside raw SQL through sqlite3, and the two workers' idle CPU.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any, Callable

import psycopg2
import requests

from tests.support.common import PG_URL, ROOT
from tests.support.server import free_port

ROOT_PATH = "/infinica-process-engine/rest"
PIPELINE = '{"v":[["1","text/plain","42"],["2","text/plain","ACME Ltd"]],"e":[["amount",["1"]],["customer",["2"]]]}'
DAY_S = 86400

# The columns LOAD and SQLITE_REALISTIC fill.
REALISTIC_INSERT = """INSERT INTO process_instances (
  execution_id, external_id, process_uri, definition_id, definition_name, definition_location,
  definition_changed_at, definition_version, definition_origin, definition_revision, state,
  state_change_index, state_changed_at, health, online, debug, locked, auto_dispose, owner, "current_user",
  current_roles, permissions, process_engine_id, created_at, started_at, finished_at, state_format,
  current_element, pipeline, attributes, instance_constants, breakpoints, log_settings, exec_version, message,
  owner_node)"""

# The instances: row i of n. States by i % 100; createdAt spread evenly over the 90 days before now.
LOAD = f"""
{REALISTIC_INSERT}
SELECT md5(i::text)::uuid::text, 'ext-' || lpad(i::text, 8, '0'), 'bench/p' || (i %% 20) || '.ipd', %(definition)s,
  'bench', 'bench/p.ipd', now() AT TIME ZONE 'UTC', 1, 'repository', 'r1', s.state, 3, c.at, 'OK', true, false,
  -- RUNNING ones were claimed by a node long gone: the master marks them LOST, and they stay so
  false, 'never', 'user' || (i %% 200), 'user' || (i %% 200), '[]', '{{}}', 'bench-node', c.at, c.at,
  CASE WHEN s.state IN ('FINISHED', 'FAILED') THEN c.at + interval '2 seconds' END, 1, 'e',
  '{PIPELINE}', '{{}}', '{{"v":[],"e":[]}}', '[]', '{{}}', 1, CASE WHEN s.state = 'FAILED' THEN 'it broke' END,
  CASE WHEN s.state = 'RUNNING' THEN 'bench-gone' END
FROM generate_series(1, %(rows)s) AS i,
  LATERAL (SELECT CASE WHEN i %% 100 < 70 THEN 'FINISHED' WHEN i %% 100 < 85 THEN 'WAITING'
                       WHEN i %% 100 < 98 THEN 'FAILED' ELSE 'RUNNING' END AS state) s,
  LATERAL (SELECT (now() AT TIME ZONE 'UTC') - make_interval(secs => (i::float8 * 90 * {DAY_S}) / %(rows)s) AS at) c
"""


# SQLite: `rows` WAITING instances, each waiting for a signal (startProcess), as a busy single box holds.
SQLITE_LOAD = f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
INSERT INTO process_instances (
  execution_id, external_id, process_uri, definition_id, definition_name, definition_location,
  definition_changed_at, definition_version, definition_origin, definition_revision, state,
  state_change_index, state_changed_at, health, online, debug, locked, auto_dispose, owner, "current_user",
  current_roles, permissions, process_engine_id, created_at, started_at, state_format, current_element,
  pipeline, attributes, instance_constants, breakpoints, log_settings, exec_version)
SELECT printf('00000000-0000-4000-8000-%012d', i), printf('ext-%08d', i), 'bench/p' || (i % 20) || '.ipd',
  :definition, 'bench', 'bench/p.ipd', :now, 1, 'repository', 'r1', 'WAITING', 3, :now, 'OK', 1, 0, 0, 'never',
  'user' || (i % 200), 'user' || (i % 200), '[]', '{{}}', 'bench-node', :now, :now, 1, 'hold', '{PIPELINE}',
  '{{}}', '{{"v":[],"e":[]}}', '[]', '{{}}', 1
FROM n
"""
SQLITE_WAITS = ("INSERT INTO wait_states (execution_id, element_id, kind, created_at) "
                "SELECT execution_id, 'hold', 'signal', created_at FROM process_instances")

# SQLite: the same realistic instances as LOAD (timestamps as the text SQLAlchemy writes, microseconds
# spelled out), for the query shapes on the single-box backend.
SQLITE_REALISTIC = f"""
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)
{REALISTIC_INSERT}
SELECT printf('%08x-0000-4000-8000-%012d', i, i), printf('ext-%08d', i), 'bench/p' || (i % 20) || '.ipd',
  :definition, 'bench', 'bench/p.ipd', :now, 1, 'repository', 'r1', state, 3, at, 'OK', 1, 0, 0, 'never',
  'user' || (i % 200), 'user' || (i % 200), '[]', '{{}}', 'bench-node', at, at,
  CASE WHEN state IN ('FINISHED', 'FAILED') THEN datetime(at, '+2 seconds') || substr(at, 20) END, 1, 'e',
  '{PIPELINE}', '{{}}', '{{"v":[],"e":[]}}', '[]', '{{}}', 1, CASE WHEN state = 'FAILED' THEN 'it broke' END,
  CASE WHEN state = 'RUNNING' THEN 'bench-gone' END
FROM (SELECT i, CASE WHEN i % 100 < 70 THEN 'FINISHED' WHEN i % 100 < 85 THEN 'WAITING'
                     WHEN i % 100 < 98 THEN 'FAILED' ELSE 'RUNNING' END AS state,
             datetime(:epoch - (i * 90.0 * {DAY_S}) / :rows, 'unixepoch')
               || printf('.%06d', (i * 7919) % 1000000) AS at FROM n)
"""


def _param(field: str, operation: str, *values: str) -> dict:
    return {"param": {"field": field, "operation": operation, "values": {"value": list(values)}}}


def shapes(day_ago_iso: str, dialect: str = "postgresql") -> dict[str, tuple[dict, str]]:
    """The issue's findExecutions shapes: (REST query body, the page's SQL in `dialect`). Paging at offset
    1000 is paging on both databases (the 10k one has 1,300 FAILED instances); at 5000 the 10k one is past
    its end."""
    live = "disposed_at IS NULL"
    if dialect == "sqlite":
        day_ago, prefix = "strftime('%Y-%m-%d %H:%M:%f', 'now', '-1 day')", "GLOB 'ext-0050000*'"
    else:
        day_ago, prefix = "(now() AT TIME ZONE 'UTC') - interval '1 day'", "LIKE 'ext-0050000%%'"
    return {
        "externalId equals": (
            {"query": _param("externalId", "equals", "ext-00500000")},
            f"SELECT * FROM process_instances WHERE {live} AND external_id = 'ext-00500000' LIMIT 1000"),
        "WAITING, 2 processUris, by createdAt desc, limit 50": (
            {"query": {"and": {"param": [_param("state", "equals", "WAITING")["param"],
                                         _param("processUri", "in", "bench/p3.ipd", "bench/p7.ipd")["param"]]},
                       "sort": {"criterion": {"field": "createdAt", "ascending": False}}, "limit": 50}},
            f"SELECT * FROM process_instances WHERE {live} AND state = 'WAITING' AND process_uri IN "
            "('bench/p3.ipd', 'bench/p7.ipd') ORDER BY created_at DESC LIMIT 50"),
        "last 24 h and owner equals, limit 100": (
            {"query": {"and": {"param": [_param("createdAt", "greaterThan", day_ago_iso)["param"],
                                         _param("owner", "equals", "user42")["param"]]}, "limit": 100}},
            f"SELECT * FROM process_instances WHERE {live} AND created_at > {day_ago} AND owner = 'user42' LIMIT 100"),
        "not(state in FINISHED), limit 100": (
            {"query": {"not": _param("state", "in", "FINISHED"), "limit": 100}},
            f"SELECT * FROM process_instances WHERE {live} AND state <> 'FINISHED' LIMIT 100"),
        "externalId like 'ext-0050000%', limit 20": (
            {"query": {**_param("externalId", "like", "ext-0050000%"), "limit": 20}},
            f"SELECT * FROM process_instances WHERE {live} AND external_id {prefix} LIMIT 20"),
        **{f"FAILED by finishedAt, offset {offset}, limit 50": (
            {"query": {**_param("state", "equals", "FAILED"), "sort": {"criterion": {"field": "finishedAt"}},
                       "offset": offset, "limit": 50}},
            f"SELECT * FROM process_instances WHERE {live} AND state = 'FAILED' ORDER BY finished_at "
            f"LIMIT 50 OFFSET {offset}") for offset in (1000, 5000)},
    }


def _schema_url(schema: str, application: str) -> str:
    separator = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{separator}options=-csearch_path%3D{schema}&application_name={application}"


def _dsn() -> str:
    return PG_URL.replace("postgresql+psycopg2://", "postgresql://")


def build(schema: str, rows: int, application: str, revision: str = "head") -> str:
    """A fresh schema migrated to `revision` and holding `rows` instances; its SQLAlchemy URL."""
    from alembic import command

    from engine.storage.database import alembic_config

    _fresh_schema(schema)
    url = _schema_url(schema, application)
    command.upgrade(alembic_config(url), revision)
    with psycopg2.connect(_dsn(), options=f"-csearch_path={schema}") as conn, conn.cursor() as cursor:
        cursor.execute("INSERT INTO definitions (uri, revision, version, name, origin, changed_at, source) VALUES "
                       "('bench/p.ipd', 'r1', 1, 'bench', 'repository', now(), '') RETURNING id")
        definition = cursor.fetchone()[0]
        cursor.execute(LOAD, {"definition": definition, "rows": rows})
    vacuum(schema)
    return url


def vacuum(schema: str, table: str = "") -> None:
    """VACUUM ANALYZE the schema's tables (or one): the planner's statistics and visibility map, as
    autovacuum would have them on a database in use."""
    conn = psycopg2.connect(_dsn(), options=f"-csearch_path={schema}")
    try:
        conn.autocommit = True
        conn.cursor().execute(f"VACUUM ANALYZE {table}")
    finally:
        conn.close()


def _fresh_schema(schema: str) -> None:
    with psycopg2.connect(_dsn()) as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")


def drop(schema: str) -> None:
    with psycopg2.connect(_dsn()) as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def serve(folder: Path, url: str, name: str) -> tuple[subprocess.Popen, str]:
    """`process-engine serve`, one worker, on `url`; its REST base."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "settings.toml"
    config.write_text(f'services = []\n[storage]\nurl = "{url}"\n[repository]\npath = "{folder}"\n'
                      f'[engine]\nnode_id = "bench-{name}"\n')
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), PROCESS_ENGINE_CONFIG=str(config), PE_WORKERS="1")
    process = subprocess.Popen([sys.executable, "-m", "config.cli", "--config", str(config), "serve", "--port",
                                str(port)], cwd=folder, env=env, stdout=(folder / "serve.log").open("w"),
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/infinica-process-engine"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base}/health/ready", timeout=5).status_code == 200:
                return process, f"{base}/rest"
        except requests.RequestException:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"serve on {url} did not start; see {folder / 'serve.log'}")


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _find(session: requests.Session, base: str, body: dict) -> None:
    answer = session.post(f"{base}/processes/query", json=body, timeout=120)
    assert answer.status_code == 200, answer.text


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _worker(process: subprocess.Popen) -> int:
    children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    return int(children[0])


def build_sqlite(path: Path, rows: int, realistic: bool = False) -> str:
    """A SQLite file migrated to head holding `rows` instances waiting for a signal (or, `realistic`,
    LOAD's mix of states); its URL."""
    import sqlite3

    from engine.storage.database import Database

    url = f"sqlite:///{path}"
    database = Database(url)
    database.upgrade()
    database.dispose()
    if rows:
        conn = sqlite3.connect(path)
        now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
        definition = conn.execute("INSERT INTO definitions (uri, revision, version, name, origin, changed_at, "
                                  "source) VALUES ('bench/p.ipd', 'r1', 1, 'bench', 'repository', ?, '')",
                                  (now,)).lastrowid
        if realistic:
            conn.execute(SQLITE_REALISTIC, {"rows": rows, "definition": definition, "now": now,
                                            "epoch": int(time.time())})
        else:
            conn.execute(SQLITE_LOAD, {"rows": rows, "definition": definition, "now": now})
            conn.execute(SQLITE_WAITS)
        conn.commit()
        conn.close()
    return url


def sqlite_idle(rows: int = 100_000, seconds: float = 20.0) -> str:
    """Idle CPU of a served SQLite node holding `rows` waiting instances against one holding none."""
    with tempfile.TemporaryDirectory(prefix="pe-bench-idle-") as temp:
        folder = Path(temp)
        busy = serve(folder / "busy", build_sqlite(folder / "busy.db", rows), "busy")[0]
        empty = serve(folder / "empty", build_sqlite(folder / "empty.db", 0), "empty")[0]
        try:
            time.sleep(3)
            pids = {"busy": _worker(busy), "empty": _worker(empty)}
            before = {k: _cpu_seconds(p) for k, p in pids.items()}
            time.sleep(seconds)
            used = {k: (_cpu_seconds(p) - before[k]) / seconds * 100 for k, p in pids.items()}
        finally:
            for process in (busy, empty):
                process.terminate()
                process.wait(timeout=40)
    ratio = used["busy"] / used["empty"] if used["empty"] else float("inf")
    return (f"  SQLite idle worker CPU over {seconds:.0f} s: {used['busy']:.2f} % with {rows:,} waiting instances, "
            f"{used['empty']:.2f} % empty: {ratio:.2f}x  (goal <= 1.5x)")


def report(rows: int = 1_000_000, small: int = 10_000, repeat: int = 15, idle_s: float = 20.0) -> str:
    big_schema, small_schema = "pe_bench_scale_big", "pe_bench_scale_small"
    lines = []
    started = time.monotonic()
    try:
        big_url, small_url = build(big_schema, rows, "pe-bench-big"), build(small_schema, small, "pe-bench-small")
        loaded = time.monotonic() - started
        with tempfile.TemporaryDirectory(prefix="pe-bench-scale-") as temp:
            big, big_base = serve(Path(temp) / "big", big_url, "big")
            small_server, small_base = serve(Path(temp) / "small", small_url, "small")
            try:
                raw = psycopg2.connect(_dsn(), options=f"-csearch_path={big_schema}")
                raw.autocommit = True
                try:
                    lines += _queries(big_base, small_base, lambda sql: raw.cursor().execute(sql), "postgresql", repeat)
                finally:
                    raw.close()
                lines += _idle(big, small_server, idle_s, rows, small)
            finally:
                for process in (big, small_server):
                    process.terminate()
                    process.wait(timeout=40)
    finally:
        drop(big_schema)
        drop(small_schema)
    lines.append(sqlite_idle(seconds=idle_s))
    return "\n".join([f"Scale (PostgreSQL; {rows:,} and {small:,} instances loaded in {loaded:.0f} s; "
                      f"p50 of {repeat}, alternating)"] + lines + [sqlite_queries(rows, small, repeat, idle_s)])


def _queries(big_base: str, small_base: str, raw: Callable[[str], Any], dialect: str, repeat: int) -> list[str]:
    """Each shape's p50 over REST on the big and the small server, taking turns, beside `raw` sending
    the page's SQL to the big database."""
    from datetime import datetime, timedelta, timezone

    day_ago = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    session = requests.Session()
    lines = [f"  {'findExecutions shape':52} {'1M ms':>8} {'10k ms':>8} {'raw SQL':>8}  1M/10k  1M/raw  (goal <= 50 ms, <= 2x 10k)"]
    for name, (body, sql) in shapes(day_ago, dialect).items():
        _find(session, big_base, body), _find(session, small_base, body)  # warm
        times: dict[str, list[float]] = {"big": [], "small": [], "raw": []}
        for _ in range(repeat):
            times["big"].append(_timed(lambda: _find(session, big_base, body)))
            times["small"].append(_timed(lambda: _find(session, small_base, body)))
            times["raw"].append(_timed(lambda: raw(sql)))
        b, s, r = (median(times[k]) for k in ("big", "small", "raw"))
        lines.append(f"  {name:52} {b:8.1f} {s:8.1f} {r:8.1f}  {b / s:6.2f}x {b / r:6.1f}x")
    lines += _sorted(session, big_base, small_base)
    for count_body in ({"query": _param("state", "equals", "WAITING")},):
        b = median(_timed(lambda: session.post(f"{big_base}/processes/count", json=count_body, timeout=120))
                   for _ in range(5))
        lines.append(f"  {'POST /processes/count, state equals WAITING (exact)':52} {b:8.1f}")
    return lines


def _sorted(session: requests.Session, big_base: str, small_base: str, repeat: int = 3) -> list[str]:
    """Every instance sorted by each field, either way, the page at offset 5000 (issue 15: any field,
    deep paging): p50 of a few, ascending and descending taking turns with the 10k server."""
    from engine.model.query import QueryField

    lines = [f"  {'every instance sorted by …, offset 5000, limit 50':52} {'1M ms':>8} {'10k ms':>8}  "
             f"{'1M desc':>8} {'10k desc':>8}  1M/10k"]
    for field in QueryField:
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(repeat):
            for order in ("asc", "desc"):
                body = {"query": {"sort": {"criterion": {"field": field.value, "ascending": order == "asc"}},
                                  "offset": 5000, "limit": 50}}
                for size, base in (("big", big_base), ("small", small_base)):
                    times.setdefault((size, order), []).append(_timed(lambda: _find(session, base, body)))
        p50 = {key: median(values) for key, values in times.items()}
        worst = max(p50["big", o] / p50["small", o] for o in ("asc", "desc"))
        lines.append(f"    {field.value:50} {p50['big', 'asc']:8.1f} {p50['small', 'asc']:8.1f}  "
                     f"{p50['big', 'desc']:8.1f} {p50['small', 'desc']:8.1f}  {worst:6.2f}x")
    return lines


def sqlite_queries(rows: int = 1_000_000, small: int = 10_000, repeat: int = 15, idle_s: float = 20.0) -> str:
    """The query shapes on SQLite files of LOAD's realistic instances, 1M against 10k, beside raw SQL
    through sqlite3 on the 1M file; then the two workers' idle CPU."""
    import sqlite3

    with tempfile.TemporaryDirectory(prefix="pe-bench-sqlite-") as temp:
        folder = Path(temp)
        started = time.monotonic()
        urls = {n: build_sqlite(folder / f"{n}.db", count, realistic=True) for n, count in (("big", rows), ("small", small))}
        loaded = time.monotonic() - started
        servers = {n: serve(folder / n, url, f"sqlite-{n}") for n, url in urls.items()}
        raw = sqlite3.connect(folder / "big.db")
        try:
            lines = _queries(servers["big"][1], servers["small"][1], lambda sql: raw.execute(sql).fetchall(),
                             "sqlite", repeat)
            pids = {n: _worker(process) for n, (process, _) in servers.items()}
            before = {n: _cpu_seconds(pid) for n, pid in pids.items()}
            time.sleep(idle_s)
            used = {n: (_cpu_seconds(pid) - before[n]) / idle_s * 100 for n, pid in pids.items()}
            lines.append(f"  idle worker CPU over {idle_s:.0f} s: {used['big']:.2f} % at {rows:,} rows, {used['small']:.2f} % at "
                         f"{small:,}: {used['big'] / used['small'] if used['small'] else float('inf'):.2f}x  (goal <= 1.5x)")
        finally:
            raw.close()
            for process, _ in servers.values():
                process.terminate()
                process.wait(timeout=40)
    return "\n".join([f"Scale (SQLite; {rows:,} and {small:,} instances loaded in {loaded:.0f} s; p50 of {repeat}, "
                      "alternating)"] + lines)


# Live instances written as a node writes them: inserted, then waiting, then finished (LOAD's rows,
# numbered from `first`).
_LIVE_ROWS = LOAD.replace("generate_series(1, %(rows)s)", "generate_series(%(first)s, %(first)s + %(rows)s - 1)")
_LIFECYCLE = ("UPDATE process_instances SET state = 'WAITING', state_change_index = state_change_index + 1, "
              "owner_node = NULL, previous_node = 'bench-node' WHERE execution_id = ANY(%(ids)s)",
              "UPDATE process_instances SET state = 'FINISHED', state_change_index = state_change_index + 1, "
              "finished_at = now() AT TIME ZONE 'UTC' WHERE execution_id = ANY(%(ids)s)")


def index_cost(rows: int = 200_000, batch: int = 2_000, rounds: int = 8) -> str:
    """What the indexes of the head revision cost writers, against those of the revision before it: two
    schemas of `rows` instances, into which batches of live instances are inserted and carried to their
    end (two updates each), the two schemas taking turns; the ratio of the medians of their batch times."""
    from alembic.script import ScriptDirectory

    from engine.storage.database import alembic_config

    scripts = ScriptDirectory.from_config(alembic_config(_schema_url("public", "pe-bench-index")))
    before = scripts.get_revision(scripts.get_current_head()).down_revision

    schemas = {"before": ("pe_bench_index_before", before), "head": ("pe_bench_index_head", "head")}
    took: dict[str, list[float]] = {"before": [], "head": []}
    definitions: dict[str, int] = {}
    try:
        for name, (schema, revision) in schemas.items():
            build(schema, rows, "pe-bench-index", revision)
            with psycopg2.connect(_dsn(), options=f"-csearch_path={schema}") as conn, conn.cursor() as cursor:
                cursor.execute("SELECT id FROM definitions")
                definitions[name] = cursor.fetchone()[0]
        first = rows + 1
        for _ in range(rounds):
            for name, (schema, _) in schemas.items():
                with psycopg2.connect(_dsn(), options=f"-csearch_path={schema}") as conn, conn.cursor() as cursor:
                    started = time.perf_counter()
                    cursor.execute(_LIVE_ROWS + " RETURNING execution_id",
                                   {"definition": definitions[name], "rows": batch, "first": first})
                    ids = [r[0] for r in cursor.fetchall()]
                    for statement in _LIFECYCLE:
                        cursor.execute(statement, {"ids": ids})
                    conn.commit()
                    took[name].append(time.perf_counter() - started)
            first += batch
    finally:
        for schema, _ in schemas.values():
            drop(schema)
    b, h = median(took["before"]), median(took["head"])
    return (f"  {batch:,} live instances inserted and carried to their end, among {rows:,}: "
            f"{h * 1000:.0f} ms with the head's indexes, {b * 1000:.0f} ms with revision {before}'s: "
            f"{h / b:.2f}x  (p50 of {rounds}, alternating)")


def _backends(application: str) -> list[int]:
    with psycopg2.connect(_dsn()) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", (application,))
        return [r[0] for r in cursor.fetchall()]


def _idle(big: subprocess.Popen, small_server: subprocess.Popen, seconds: float, rows: int, small: int) -> list[str]:
    """CPU of each worker and of its PostgreSQL sessions, with nobody calling (steady state: past start-up
    and the first sweep, which marks the gone node's 20,000 instances LOST in one statement)."""
    time.sleep(10)
    pids = {"big": [_worker(big), *_backends("pe-bench-big")],
            "small": [_worker(small_server), *_backends("pe-bench-small")]}

    def cpu(key: str) -> float:
        total = 0.0
        for pid in pids[key]:
            try:
                total += _cpu_seconds(pid)
            except FileNotFoundError:  # a session closed meanwhile
                pass
        return total
    before = {k: cpu(k) for k in pids}
    time.sleep(seconds)
    used = {k: (cpu(k) - before[k]) / seconds * 100 for k in pids}
    ratio = used["big"] / used["small"] if used["small"] else float("inf")
    return [f"  idle worker + its PostgreSQL sessions, CPU over {seconds:.0f} s: {used['big']:.2f} % at {rows:,} rows, {used['small']:.2f} % at "
            f"{small:,}: {ratio:.2f}x  (goal <= 1.5x)"]


if __name__ == "__main__":
    print(report(*(int(a) for a in sys.argv[1:2])))
