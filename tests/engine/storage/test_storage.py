"""Storage: migrations that match the tables, saved-state formats, one node per SQLite file."""
from __future__ import annotations

import sqlite3
import threading
import unittest.mock
import time
import uuid
import warnings
from datetime import datetime, timezone

import psycopg2
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from config.settings import load_settings
from engine.support import clock
from engine import operations as ops
from engine.model.datastore import DataStore, make_value
from engine.runtime.node import ProcessEngine
from engine.runtime.cluster.membership import NodeConflict
from engine.security.authorization import ANONYMOUS_ADMIN as ADMIN
from engine.model.states import ExecutionState as S, HealthState as H
from engine.storage import codec
from engine.storage.database import Database
from engine.storage.tables import Base
from tests.support.common import write_definition
from tests.support.storage import plant


def test_migrations_create_exactly_the_tables_the_code_uses(storage_url):
    database = Database(storage_url)
    database.upgrade()
    database.upgrade()  # applying twice is harmless
    with database.engine.connect() as conn, warnings.catch_warnings():
        # SQLite's reflection skips indexes of expressions (the sort indexes of nullable fields), and
        # alembic then skips those of the code: the loop below checks that each exists, by name.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
        differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        tables = set(inspect(conn).get_table_names())
        conditions = stored_index_conditions(conn)
        included = {} if database.is_sqlite else {  # (PostgreSQL's INCLUDE columns, which it does not compare either)
            i["name"]: list(i.get("dialect_options", {}).get("postgresql_include") or ())
            for t in tables for i in inspect(conn).get_indexes(t)}
    database.dispose()
    assert differences == []
    # compare_metadata does not look at the WHERE of partial indexes, on which the queries rely
    for table in Base.metadata.sorted_tables:
        for index in table.indexes:
            wanted = index.dialect_options["sqlite"]["where"] if database.is_sqlite \
                else index.dialect_options["postgresql"]["where"]
            assert conditions[index.name] == (str(wanted) if wanted is not None else None), index.name
            if not database.is_sqlite:
                assert included[index.name] == list(index.dialect_options["postgresql"]["include"] or ()), index.name
    assert {"process_instances", "wait_states", "process_permissions", "process_log", "definitions",
            "nodes", "alembic_version"} <= tables


def stored_index_conditions(conn) -> dict[str, str | None]:
    """Each index's WHERE as the database holds it (None for a full index), in the code's spelling."""
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
    else:
        rows = conn.exec_driver_sql("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()")
    conditions = {}
    for name, definition in rows:
        _, where, condition = definition.partition(" WHERE ")
        condition = condition.strip()
        if condition.startswith("(") and condition.endswith(")"):  # PostgreSQL wraps the whole
            condition = condition[1:-1]
        conditions[name] = condition if where else None
    return conditions


def test_a_second_engine_on_the_same_sqlite_file_is_refused(tmp_path):
    def settings():
        return load_settings({}).with_overrides(storage={"url": f"sqlite:///{tmp_path / 'one.db'}"})
    first = ProcessEngine(settings()).start()
    try:
        with pytest.raises(NodeConflict, match="SQLite serves one node"):
            ProcessEngine(settings()).start()
    finally:
        first.stop()
    ProcessEngine(settings()).start().stop()  # once the first has stopped, a new one may start


def test_an_older_state_format_is_upgraded_when_read(engine_factory, repo, monkeypatch):
    """A row saved in format 1 by an older engine is read through the registered upgrade."""
    write_definition(repo, "w.ipd", '<wait id="hold"/><assign id="a" name="b" select="concat($a, \'!\')"/>')
    pe = engine_factory(repo)
    snap = ops.run(pe, ADMIN, "w.ipd", states=["WAITING"],
                   process_params=DataStore([("old-name", [make_value("1", "text/plain", "x")])]))

    def rename_entry(fields):  # what a real upgrade might do: an entry renamed between formats
        store = codec.decode_store(fields["pipeline"])
        store.set("a", store.get("old-name"))
        store.remove("old-name")
        return dict(fields, pipeline=codec.encode_store(store))

    monkeypatch.setattr(codec, "STATE_FORMAT", 2)
    monkeypatch.setitem(codec.UPGRADES, 1, rename_entry)
    end = ops.start_process(pe, ADMIN, snap.execution_id)
    assert end.state is S.FINISHED and end.pipeline.first_text("b") == "x!"


def test_a_format_without_upgrade_is_corrupt(engine_factory, repo, monkeypatch):
    write_definition(repo, "w.ipd", '<wait id="hold"/>')
    pe = engine_factory(repo)
    snap = ops.run(pe, ADMIN, "w.ipd", states=["WAITING"])
    plant(pe, snap.execution_id, state_format=0)
    assert ops.start_process(pe, ADMIN, snap.execution_id, timeout=3000).health.state is H.CORRUPT


def _log_restarts(wal) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time a writer starts the log
    over, and a log started over keeps the file from growing."""
    with open(wal, "rb") as file:
        header = file.read(16)
    return int.from_bytes(header[12:16], "big") if len(header) == 16 else 0


def test_the_sqlite_wal_is_checkpointed_off_the_request_path_and_started_over(tmp_path):
    """Requests' commits leave checkpoints to the engine's own thread; the WAL is still started over
    again and again under writes that never pause. (A checkpoint that overlaps a write never copies
    the log to its end, and only such a log is started over: without that, every commit's pages stay
    in the file, about eight per run.)"""
    folder = tmp_path / "defs"
    uri = write_definition(folder, "one.ipd", '<assign id="a" name="x">1</assign>')
    settings = load_settings({}).with_overrides(storage={"url": f"sqlite:///{tmp_path / 'wal.db'}"},
                                                repository={"path": str(folder)}, services=())
    pe = ProcessEngine(settings).start()
    wal = tmp_path / "wal.db-wal"
    runs, stop = [0], threading.Event()

    def load() -> None:
        while not stop.is_set():
            assert ops.run(pe, ADMIN, uri, peek=True).state == S.FINISHED  # kept, so written
            runs[0] += 1

    try:
        conn, _ = pe.db.connection()
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        conn.rollback()
        writer = threading.Thread(target=load)
        writer.start()
        first = _log_restarts(wal)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and writer.is_alive() and _log_restarts(wal) < first + 3:
            time.sleep(0.01)
        stop.set()
        writer.join()
        assert _log_restarts(wal) >= first + 3, f"the log was not started over in {runs[0]} runs"
    finally:
        stop.set()
        pe.stop()
    with Database(settings.storage.url).engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM process_instances").scalar() == runs[0]


def test_a_burst_of_writes_wakes_the_checkpointer_before_its_timer(tmp_path):
    """On a timer alone, the WAL between two checkpoints holds whatever the writers managed meanwhile,
    more the faster they are; every `CHECKPOINT_EVERY` commits wake the checkpointer, so its size
    follows the number of commits instead."""
    from engine.storage.database import CHECKPOINT_EVERY
    from engine.storage.tables import idempotency_keys as keys

    database = Database(f"sqlite:///{tmp_path / 'burst.db'}")
    database.upgrade()
    database.start_checkpointing(interval_s=3600)  # the timer never fires in this test
    wal = tmp_path / "burst.db-wal"

    def write(n: int) -> None:
        with database.unit_of_work() as uow:
            uow.conn.execute(keys.insert().values(caller="alice", key=f"k{n}", execution_id=f"e-{n}",
                                                  created_at=clock.now()))
            uow.commit()

    try:
        write(0)
        first = _log_restarts(wal)
        for n in range(1, 3 * CHECKPOINT_EVERY):
            write(n)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _log_restarts(wal) < first + 2:
            n += 1
            write(n)  # a writer starts the log over, once the checkpointer has copied it
            time.sleep(0.01)
        assert _log_restarts(wal) >= first + 2
    finally:
        database.dispose()


def test_upgrading_brings_older_sqlite_timestamps_to_the_one_text_form(tmp_path):
    """Rows written before revision 0004 spelled a whole second without microseconds."""
    import sqlite3

    from alembic import command

    from engine.storage.database import alembic_config

    path = tmp_path / "old.db"
    config = alembic_config(f"sqlite:///{path}")
    command.upgrade(config, "0003")
    with sqlite3.connect(path) as conn:
        columns = {name: typ.upper() for _, name, typ, *_ in conn.execute("PRAGMA table_info(process_instances)")}
        row = {name: "2026-01-02 03:04:05" if "DATETIME" in typ else 1 if typ.startswith(("INT", "BOOL")) else "x"
               for name, typ in columns.items()}
        row.update(finished_at="2026-01-02 03:04:05.120000", disposed_at=None)
        conn.execute(f"INSERT INTO process_instances ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                     list(row.values()))
    command.upgrade(config, "head")
    with sqlite3.connect(path) as conn:
        stored = conn.execute("SELECT created_at, state_changed_at, finished_at, disposed_at FROM process_instances")
        assert stored.fetchall() == [("2026-01-02 03:04:05.000000", "2026-01-02 03:04:05.000000",
                                      "2026-01-02 03:04:05.120000", None)]


def test_sqlite_timestamps_are_written_as_utc_text_whatever_their_zone_and_however_often_repeated():
    """One moment is written once and its text reused (a run's timestamps mostly share one millisecond):
    the same instant in another zone is the same text, a naive time is taken as UTC, and a moment that
    only looks alike (another zone's wall clock) is not mistaken for it."""
    from datetime import timedelta

    from sqlalchemy.dialects import sqlite

    from engine.storage import tables
    from engine.storage.tables import UtcDateTime

    process = UtcDateTime().bind_processor(sqlite.dialect())
    moment = datetime(2026, 12, 6, 11, 30, 5, 123000, tzinfo=timezone.utc)
    east = timezone(timedelta(hours=2))
    for _ in range(2):  # written afresh, then again
        assert process(moment) == "2026-12-06 11:30:05.123000"
        assert process(moment.astimezone(east)) == "2026-12-06 11:30:05.123000"
        assert process(moment.replace(tzinfo=None)) == "2026-12-06 11:30:05.123000"
        assert process(moment.replace(tzinfo=east)) == "2026-12-06 09:30:05.123000"
        assert process(None) is None
    for n in range(200):  # more moments than are kept: each still its own text
        later = moment + timedelta(milliseconds=n)
        assert process(later) == f"2026-12-06 11:30:{5 + (123 + n) // 1000:02d}.{(123 + n) % 1000:03d}000"
    assert len(tables._WRITTEN) <= tables._WRITTEN_KEPT  # (a long-running node's memory stays bounded)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A database no migration has touched yet."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("pg_schemas")()


def test_upgrading_gives_each_reader_row_its_records_fields_and_drops_those_of_no_record(empty_url):
    """Revision 0008: the names that may read a record carry its query fields (queried on the readers'
    own indexes), taken from the record whether it was moved or is still staged."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from engine.storage.database import alembic_config

    config = alembic_config(empty_url)
    command.upgrade(config, "0007")
    record = ("execution_id, external_id, process_uri, definition_version, owner, parent_execution_id, created_at, "
              "started_at, finished_at, duration_ms, end_state, message, exception_type, exception_source, nodes, "
              "pipeline, recorded_at")
    values = ("(:e, :e, :e, 1, :owner, NULL, :created, :created, :finished, 61000, :state, NULL, NULL, NULL, '[]', "
              "NULL, :finished)")
    moved = {"e": "moved", "owner": "alice", "state": "FAILED", "created": "2026-01-02 03:04:05",
             "finished": "2026-01-02 03:05:06"}
    staged = {"e": "staged", "owner": "carol", "state": "FINISHED", "created": "2026-02-02 03:04:05",
              "finished": "2026-02-02 03:05:06"}
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO process_history ({record}) VALUES {values}"), moved)
        conn.execute(text(f"INSERT INTO process_history_staged ({record}) VALUES {values}"), staged)
        for table, execution_id, name in (("history_readers", "moved", "clerk"), ("history_readers", "staged", "bob"),
                                          ("history_readers", "nowhere", "clerk"),
                                          ("history_readers_staged", "staged", "clerk"),
                                          ("history_readers_staged", "nowhere", "bob")):
            conn.execute(text(f"INSERT INTO {table} (execution_id, name) VALUES (:e, :n)"), {"e": execution_id, "n": name})
    command.upgrade(config, "head")
    with engine.connect() as conn:
        def carried(table: str) -> set[tuple]:
            return {(e, n, x, p, o, s, d, str(c)[:19], str(f)[:19]) for e, n, x, p, o, s, d, c, f in conn.execute(text(
                f"SELECT execution_id, name, external_id, process_uri, owner, end_state, duration_ms, created_at, "
                f"finished_at FROM {table}"))}
        alices = ("moved", "alice", "FAILED", 61000, "2026-01-02 03:04:05", "2026-01-02 03:05:06")
        carols = ("staged", "carol", "FINISHED", 61000, "2026-02-02 03:04:05", "2026-02-02 03:05:06")
        assert carried("history_readers") == {("moved", "clerk", "moved", *alices), ("staged", "bob", "staged", *carols)}
        assert carried("history_readers_staged") == {("staged", "clerk", "staged", *carols)}
    engine.dispose()


def test_downgrading_stages_the_calls_staged_records_carry_as_rows_of_their_own(empty_url):
    """Revision 0009 lets a staged record carry the call it ended in; going back to 0008 loses none."""
    from alembic import command
    from sqlalchemy import create_engine, text

    from engine.storage.database import alembic_config

    config = alembic_config(empty_url)
    command.upgrade(config, "head")
    record = "execution_id, process_uri, owner, created_at, finished_at, duration_ms, end_state, nodes, recorded_at"
    at = "2026-01-02 03:04:05"
    engine = create_engine(empty_url)
    with engine.begin() as conn:
        for execution_id, call in (("carries", True), ("alone", False)):
            conn.execute(text(
                f"INSERT INTO process_history_staged ({record}, call_at, call_user_name, call_operation, "
                f"call_target_kind, call_target, call_outcome, call_parameters) VALUES (:e, 'p.ipd', 'alice', :at, "
                f":at, 0, 'FINISHED', '[]', :at, :call_at, :user, :operation, :kind, :e, :outcome, :parameters)"),
                {"e": execution_id, "at": at, "call_at": at if call else None, "user": "alice" if call else None,
                 "operation": "run" if call else None, "kind": "execution" if call else None,
                 "outcome": "ok" if call else None, "parameters": "[]" if call else None})
    command.downgrade(config, "0008")
    with engine.connect() as conn:
        staged = conn.execute(text("SELECT user_name, operation, target_kind, target, outcome FROM operation_log_staged"))
        assert staged.all() == [("alice", "run", "execution", "carries", "ok")]
        assert "call_operation" not in {c["name"] for c in inspect(conn).get_columns("process_history_staged")}
    engine.dispose()


def test_a_statement_run_alone_commits_and_leaves_units_of_work_transactional(storage_url):
    """`execute_alone` (how a run that ends at once saves its row) commits its statement by itself;
    the connection it borrowed serves the next unit of work in a transaction as before, so what that
    does not commit is still rolled back."""
    from sqlalchemy import func, select

    from engine.storage.tables import idempotency_keys as keys

    database = Database(storage_url, pool_size=1)  # one connection: the next unit of work gets it back
    database.upgrade()
    mark = "?" if database.is_sqlite else "%s"
    sql = f"INSERT INTO idempotency_keys (caller, key, execution_id, created_at) VALUES ({', '.join([mark] * 4)})"
    try:
        database.execute_alone(sql, ("alice", "alone", "e-1", "2026-01-02 03:04:05.000000"))
        with database.unit_of_work() as uow:
            uow.conn.execute(keys.insert().values(caller="alice", key="undone", execution_id="e-2",
                                                  created_at=clock.now()))
        with database.unit_of_work(write=False) as uow:
            stored = uow.conn.execute(select(keys.c.key, func.count()).group_by(keys.c.key)).all()
        assert stored == [("alone", 1)]
    finally:
        database.dispose()


def test_statements_run_together_commit_all_or_nothing(storage_url):
    """`execute_together` (how a run that ends at once saves its row with its history record and its
    log row) commits its statements as one transaction: when one fails, none of them is kept, and the
    connection serves the next unit of work as before."""
    from sqlalchemy import select

    from engine.storage.tables import idempotency_keys as keys

    database = Database(storage_url, pool_size=1)
    database.upgrade()
    mark = "?" if database.is_sqlite else "%s"
    sql = f"INSERT INTO idempotency_keys (caller, key, execution_id, created_at) VALUES ({', '.join([mark] * 4)})"
    at = "2026-01-02 03:04:05.000000"
    try:
        database.execute_together([(sql, ("alice", "one", "e-1", at), False),
                                   (sql, [("alice", "two", "e-2", at), ("bob", "two", "e-3", at)], True)])
        with pytest.raises((sqlite3.IntegrityError, psycopg2.IntegrityError)):  # a key again: the first goes too
            database.execute_together([(sql, ("carol", "three", "e-4", at), False), (sql, ("alice", "one", "e-5", at), False)])
        database.execute_together([(sql, ("erin", "five", "e-7", at), False)])  # one statement: by itself
        with pytest.raises((sqlite3.IntegrityError, psycopg2.IntegrityError)):
            database.execute_together([(sql, ("erin", "five", "e-8", at), False)])
        with database.unit_of_work() as uow:
            uow.conn.execute(keys.insert().values(caller="dave", key="four", execution_id="e-6", created_at=clock.now()))
            uow.commit()
        with database.unit_of_work(write=False) as uow:
            stored = sorted(uow.conn.execute(select(keys.c.caller, keys.c.key)).all())
        assert stored == [("alice", "one"), ("alice", "two"), ("bob", "two"), ("dave", "four"), ("erin", "five")]
    finally:
        database.dispose()


def test_calls_that_queue_for_sqlites_write_lock_commit_together_each_all_or_nothing(tmp_path):
    """A group commit: calls of `execute_together` that wait while another writer holds the lock are
    written by the next holder in one transaction. Each returns once it committed; one whose
    statements fail raises its own error and keeps none of them, and the others keep all of theirs."""
    from sqlalchemy import select

    from engine.storage import database as storage
    from engine.storage.tables import idempotency_keys as keys

    database = Database(f"sqlite:///{tmp_path / 'group.db'}")
    database.upgrade()
    sql = "INSERT INTO idempotency_keys (caller, key, execution_id, created_at) VALUES (?, ?, ?, ?)"
    at = "2026-01-02 03:04:05.000000"
    groups: list[int] = []
    commit_together = storage.Database._commit_together

    def counted(self, group):
        groups.append(len(group))
        return commit_together(self, group)

    outcomes: dict[str, BaseException | None] = {}

    def call(caller: str, statements) -> None:
        try:
            database.execute_together(statements)
            outcomes[caller] = None
        except BaseException as exc:  # noqa: BLE001 (the test looks at each)
            outcomes[caller] = exc

    threads = [threading.Thread(target=call, args=(f"caller{i}", [(sql, (f"caller{i}", "a", f"e-{i}", at), False),
                                                                  (sql, [(f"caller{i}", "b", f"f-{i}", at)], True)]))
               for i in range(6)]
    # caller9's second row repeats its first: that call fails, alone
    threads.append(threading.Thread(target=call, args=("caller9", [(sql, ("caller9", "a", "e-9", at), False),
                                                                   (sql, ("caller9", "a", "e-10", at), False)])))
    try:
        with unittest.mock.patch.object(storage.Database, "_commit_together", counted):
            with database.write_lock:  # another writer holds it: every call queues
                for thread in threads:
                    thread.start()
                deadline = time.monotonic() + 10
                while len(database._together) < len(threads) and time.monotonic() < deadline:
                    time.sleep(0.01)
            for thread in threads:
                thread.join(10)
        assert groups[0] == len(threads) and sum(groups) == len(threads)
        assert isinstance(outcomes.pop("caller9"), sqlite3.IntegrityError)
        assert outcomes == {f"caller{i}": None for i in range(6)}
        with database.unit_of_work(write=False) as uow:
            stored = sorted(uow.conn.execute(select(keys.c.caller, keys.c.key)).all())
        assert stored == sorted((f"caller{i}", k) for i in range(6) for k in "ab")
    finally:
        database.dispose()


@pytest.mark.postgres
def test_every_thread_that_may_use_postgresql_gets_a_connection_without_waiting(pg_schemas):
    """A worker's request threads and executor threads may all hold a connection at once, beside the
    engine's own background threads; none waits for the pool (such a wait held a request up to the
    pool's 30 s timeout)."""
    import threading

    settings = load_settings({}).with_overrides(
        storage={"url": pg_schemas(), "pool_size": 2}, server={"threads": 6}, services=(),
        engine={"node_id": "pool-test", "thread_pools": {"default": 3, "reports": 2}})
    pe = ProcessEngine(settings).start()
    wanted = 6 + 3 + 2
    all_in = threading.Barrier(wanted + 1)
    held = []

    def hold() -> None:
        with pe.db.engine.connect() as conn:
            held.append(conn)
            try:
                all_in.wait(timeout=10)
            except threading.BrokenBarrierError:
                pass

    threads = [threading.Thread(target=hold) for _ in range(wanted)]
    try:
        for thread in threads:
            thread.start()
        all_in.wait(timeout=10)  # broken (an error) unless every thread holds a connection within 10 s
    finally:
        for thread in threads:
            thread.join()
        pe.stop()
    assert len(held) == wanted


def test_a_ready_instance_is_taken_in_one_statement_with_its_row_as_taken(engine_factory, repo):
    """A pool thread's pick-up: READY becomes RUNNING for the taking node, counted as a state change,
    and the row comes back as taken; what is not READY, online and healthy (or is another node's) is
    left as it is."""
    from datetime import datetime, timezone

    from engine.storage import instances as store

    pe = engine_factory(repo)
    pe.housekeeper.stop()  # no sweep marks the planted rows LOST, no pick-up takes them first
    write_definition(repo, "x.ipd", '<endElement id="e"/>')
    made = [ops.instantiate(pe, ADMIN, "x.ipd").execution_id for _ in range(3)]
    for execution_id in made:  # reserved for a node that is not running: this engine leaves them alone
        plant(pe, execution_id, state="READY", owner_node="elsewhere")
    plant(pe, made[1], online=False)
    plant(pe, made[2], owner_node="a-third-node")
    before = {e: ops.get_process_snapshot(pe, ADMIN, e, peek=True) for e in made}
    at = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    with pe.db.unit_of_work() as uow:
        taken = store.take_ready(uow.conn, made[0], "elsewhere", at)
        others = [store.take_ready(uow.conn, e, "elsewhere", at) for e in made[1:]]
        again = store.take_ready(uow.conn, made[0], "elsewhere", at)
        uow.commit()
    assert others == [None, None] and again is None
    assert (taken.state, taken.owner_node, taken.previous_node, taken.process_engine_id) == \
        ("RUNNING", "elsewhere", "elsewhere", "elsewhere")
    assert taken.state_change_index == before[made[0]].state_change_index + 1 and taken.state_changed_at == at
    assert taken.started_at == at  # a first start is stamped; a later one keeps its stamp
    after = ops.get_process_snapshot(pe, ADMIN, made[0], peek=True)
    assert after.state is S.RUNNING and after.state_change_index == taken.state_change_index
    for execution_id in made[1:]:
        assert ops.get_process_snapshot(pe, ADMIN, execution_id, peek=True).state_change_index == \
            before[execution_id].state_change_index


def test_an_update_sent_alone_changes_the_row_only_as_it_was_expected(engine_factory, repo):
    """How an asynchronous start saves its end: one guarded UPDATE committed by itself. A row changed
    meanwhile (its exec_version moved on: a kill, another node) or disposed is left as it is, and the
    caller is told; as expected, exactly the given columns change, typed as the table types them."""
    from datetime import datetime, timezone

    from engine.storage import instances as store

    pe = engine_factory(repo)
    write_definition(repo, "x.ipd", '<endElement id="e"/>')
    made = [ops.instantiate(pe, ADMIN, "x.ipd").execution_id for _ in range(2)]
    with pe.db.unit_of_work(write=False) as uow:
        version = store.get_instance(uow.conn, made[0]).exec_version
    at = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    ended = {"state": "FINISHED", "state_changed_at": at, "exec_version": version + 1, "online": False}
    assert not store.update_alone(pe.db, made[0], ended, version - 1)  # somebody changed it since
    assert not store.update_alone(pe.db, "no-such-execution", ended, version)
    ops.dispose_process(pe, ADMIN, made[1])
    assert not store.update_alone(pe.db, made[1], ended, version)  # disposed: not live any more
    assert ops.get_process_snapshot(pe, ADMIN, made[0], peek=True).state is S.CREATED
    assert store.update_alone(pe.db, made[0], ended, version)
    assert not store.update_alone(pe.db, made[0], ended, version)  # the version it expected is gone
    with pe.db.unit_of_work(write=False) as uow:
        row = store.get_instance(uow.conn, made[0])
    assert (row.state, row.state_changed_at, row.exec_version, row.online, row.process_uri) == \
        ("FINISHED", at, version + 1, False, "x.ipd")


def test_a_key_stored_twice_is_already_stored_and_other_integrity_errors_are_not(storage_url):
    """The unit of work tells a duplicate key (another request or node wrote the row first: the caller
    looks again) from any other broken constraint, which is a fault and stays one."""
    from sqlalchemy import insert
    from sqlalchemy.exc import IntegrityError

    from engine.support import clock
    from engine.storage import engine_state
    from engine.storage.database import AlreadyStored
    from engine.storage.tables import engine_state as table

    database = Database(storage_url)
    database.upgrade()
    try:
        with database.unit_of_work() as uow:
            engine_state.store(uow.conn, "twice", "a", clock.now())
            uow.commit()
        with pytest.raises(AlreadyStored):
            with database.unit_of_work() as uow:
                uow.conn.execute(insert(table).values(key="twice", value="b", changed_at=clock.now()))
        with pytest.raises(IntegrityError) as raised:
            with database.unit_of_work() as uow:
                uow.conn.execute(insert(table).values(key="no time", value="b", changed_at=None))
        assert not isinstance(raised.value, AlreadyStored)
        with database.unit_of_work(write=False) as uow:
            assert engine_state.value(uow.conn, "twice") == "a" and engine_state.value(uow.conn, "no time") is None
    finally:
        database.dispose()


@pytest.mark.postgres
def test_notify_all_tells_a_listener_every_key_of_a_batch_in_order(pg_schema_url):
    """The broadcast thread sends a batch of changed keys as one statement: another node's listening
    session hears each key, in the batch's order, once the batch commits."""
    import select as waiting

    import psycopg2
    from sqlalchemy import create_engine

    from engine.storage.nodes import notify_all
    from tests.support.common import PG_URL

    listener = psycopg2.connect(PG_URL.replace("postgresql+psycopg2://", "postgresql://"))
    listener.autocommit = True
    engine = create_engine(pg_schema_url)
    try:
        channel = f"pe_test_{uuid.uuid4().hex[:8]}"
        with listener.cursor() as cursor:
            cursor.execute(f"LISTEN {channel}")
        with engine.connect() as conn:
            notify_all(conn, channel, ["b-key", "a-key", "c-key"])
        heard: list[str] = []
        deadline = time.monotonic() + 10
        while len(heard) < 3 and time.monotonic() < deadline:
            waiting.select([listener], [], [], 0.5)
            listener.poll()
            while listener.notifies:
                heard.append(listener.notifies.pop(0).payload)
        assert heard == ["b-key", "a-key", "c-key"]
    finally:
        listener.close()
        engine.dispose()
