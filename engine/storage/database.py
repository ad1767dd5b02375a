"""Connecting to SQLite or PostgreSQL, migrating, and the unit of work.

SQLite: WAL, a busy timeout, foreign keys, and `BEGIN IMMEDIATE` for transactions that write, so two
writers queue on the lock instead of failing with "database is locked" when one upgrades a read.
While a `Checkpointer` runs, WAL checkpoints happen on its thread instead of inside a request's commit.
"""
from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.engine import Connection, Engine  # Connection: the handle the engine passes to storage
from sqlalchemy.pool import NullPool

from ..errors import DatabaseUnavailable
from . import history
from .prepared import Statement, execute_each

log = logging.getLogger(__name__)
T = TypeVar("T")
MIGRATIONS = Path(__file__).with_name("migrations")
_SYNC_MODES = ("OFF", "NORMAL", "FULL", "EXTRA")
WAL_SIZE_LIMIT = 4 * 1024 * 1024
# Write commits between checkpoints under load: a run's commit adds about 8 pages to the WAL, so this
# is near SQLite's own threshold of 1000 pages, and the log's size no longer follows the write rate.
CHECKPOINT_EVERY = 100


class _Together:
    """One call of `Database.execute_together` in a group commit: its statements, and how they went."""

    __slots__ = ("statements", "done", "error")

    def __init__(self, statements: Sequence[Statement]) -> None:
        self.statements, self.done = statements, False
        self.error: BaseException | None = None


def _alone(statements: Sequence[Statement]) -> bool:
    """Whether `statements` are one statement for one row: then as atomic and durable without BEGIN …
    COMMIT around it, and two calls into the driver (on PostgreSQL, round trips) cheaper."""
    return len(statements) == 1 and not statements[0][2]


def _merged(calls: Iterable[Sequence[Statement]]) -> list[Statement]:
    """The statements of several calls, those of one SQL as one `executemany`, in the order each SQL
    first comes."""
    merged: dict[str, list[Any]] = {}
    for statements in calls:
        for sql, params, many in statements:
            rows = merged.setdefault(sql, [])
            if many:
                rows.extend(params)
            else:
                rows.append(params)
    return [(sql, rows, True) for sql, rows in merged.items()]


class Database:
    def __init__(self, url: str, *, sqlite_synchronous: str = "NORMAL", pool_size: int = 10,
                 max_connections: int | None = None, idle_in_transaction_ms: int | None = None) -> None:
        """`pool_size` PostgreSQL connections stay open; up to `max_connections` (by default three times
        as many) are opened when that many threads want one at once. A PostgreSQL session of this node
        left idle inside a transaction for `idle_in_transaction_ms` (its process stalled mid-transaction:
        SIGSTOP, a VM pause) is ended by the server, so the row locks it holds stop blocking other nodes."""
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.file_path = _sqlite_file(url) if self.is_sqlite else None
        self._local = threading.local()
        self._writer: Connection | None = None
        self._held: list[Connection] = []
        self._lock = threading.Lock()
        self._together: list[_Together] = []  # execute_together's calls waiting for the write lock
        # SQLite takes one writer at a time; writers of this process queue here, woken at once,
        # rather than in SQLite's busy handler, which sleeps and retries.
        self.write_lock = threading.Lock() if self.is_sqlite else None
        self.writes = 0  # commits of write transactions, for the checkpointer to know when to look
        self.checkpointer: Checkpointer | None = None
        if self.is_sqlite:
            self.engine = _sqlite_engine(self, url, sqlite_synchronous)
        else:
            most = pool_size * 3 if max_connections is None else max(max_connections, pool_size)
            # No ping before each checkout: it is a round trip on every unit of work. A connection that
            # died in the pool fails its first statement instead, as DatabaseUnavailable (a 503, or an
            # instance handed back), and SQLAlchemy then replaces every connection opened before it.
            self.engine = create_engine(url, pool_size=pool_size, max_overflow=most - pool_size,
                                        pool_pre_ping=False, future=True)
            if idle_in_transaction_ms is not None:
                _end_stalled_sessions(self.engine, idle_in_transaction_ms)

    def upgrade(self) -> None:
        """Apply every Alembic migration not yet applied (serialised across processes)."""
        with self.engine.connect() as conn:
            if not self.is_sqlite:
                conn.exec_driver_sql("SELECT pg_advisory_lock(7263551)")
            try:
                config = alembic_config(self.url)
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
                conn.commit()
            finally:
                if not self.is_sqlite:
                    conn.exec_driver_sql("SELECT pg_advisory_unlock(7263551)")
                    conn.commit()

    def refresh_statistics(self) -> None:
        """SQLite: bring the query planner's statistics up to date. Nothing else does (PostgreSQL's
        autovacuum does it there), and without them SQLite picks, for the housekeeper's every round, an
        index that reads every live row. Sampled (`analysis_limit`): a few hundred milliseconds at most."""
        if not self.is_sqlite:
            return
        with self.write_lock:  # type: ignore[union-attr]  # SQLite has one
            conn, _ = self.connection(write=True)
            driver = conn.connection.driver_connection
            driver.execute("PRAGMA analysis_limit = 20000")
            driver.execute("ANALYZE")

    def unit_of_work(self, write: bool = True, *, on: Connection | None = None,
                     lock_timeout_ms: int | None = None, single: bool = False) -> "UnitOfWork":
        """A transaction: on a connection of the pool, or `on` one the caller holds (and keeps). With
        `lock_timeout_ms` (PostgreSQL) a statement waiting that long for a row lock fails instead of
        waiting on: for background work, which must not hang on a row a stalled node holds. `single`:
        the caller writes one statement, which PostgreSQL then commits by itself, as atomically as
        inside BEGIN … COMMIT and without those two round trips (`commit()` is still called)."""
        return UnitOfWork(self, write, on, lock_timeout_ms, single)

    def execute_alone(self, sql: str, params: Any) -> int:
        """Run one driver-level write statement as a transaction of its own; how many rows it changed.

        A statement outside a transaction commits by itself, as atomically and durably as `BEGIN …
        COMMIT` around it, without those two round trips: to the server on PostgreSQL, into the driver
        on SQLite (each a point where a request thread gives up the GIL and, under load, waits to get it
        back).
        """
        if not self.is_sqlite:
            return self._execute_alone_pg(sql, params)
        with self.write_lock:  # type: ignore[union-attr]  # SQLite has one
            conn, _ = self.connection(write=True)
            changed = conn.connection.driver_connection.execute(sql, params).rowcount  # no autobegin
            self.wrote()
            return changed

    def wrote(self) -> None:
        """Count a committed write (the caller holds `write_lock`). Every `CHECKPOINT_EVERY`-th wakes
        the checkpointer early: on a timer alone, the WAL between two checkpoints grows with the write
        rate, without bound."""
        self.writes += 1
        if self.writes % CHECKPOINT_EVERY == 0 and self.checkpointer is not None:
            self.checkpointer.wake()

    def execute_together(self, statements: Sequence[Statement]) -> None:
        """Run driver-level write statements as one transaction of their own: what a unit of work does
        for them, without SQLAlchemy's bookkeeping, which for a few small inserts (a process's end with
        its history record and its log row) costs more than the inserts themselves.

        SQLite: a group commit. Threads that come while another holds the write lock leave their
        statements for the next holder, who writes them all in one transaction — the same INSERT of
        every call as one `executemany` — and each returns once that commits. Under load the write lock
        changes hands, and the driver is called, a few times a group instead of a few times a call: each
        call is a point where the thread gives up the GIL and may wait a switch interval to get it
        back, the write lock held all the while. The statements of one call must not depend on their
        order (a process's end: inserts into tables of their own). If the group's transaction fails,
        each call's statements are tried in a transaction of their own, so that each learns its own
        outcome."""
        if not self.is_sqlite:
            self._on_raw_pg(lambda cursor: execute_each(cursor, statements), autocommit=_alone(statements))
            return
        mine = _Together(statements)
        with self._lock:
            self._together.append(mine)
        with self.write_lock:  # type: ignore[union-attr]  # SQLite has one
            if not mine.done:
                with self._lock:
                    group, self._together = self._together, []
                self._commit_together(group)
        if mine.error is not None:
            raise mine.error

    def _commit_together(self, group: list["_Together"]) -> None:
        """Write `group`'s statements (the caller holds `write_lock`): in one transaction, or each call's
        in a transaction of its own once that failed."""
        conn, _ = self.connection(write=True)
        driver = conn.connection.driver_connection
        try:
            if len(group) > 1:
                try:
                    self._transaction(driver, _merged(each.statements for each in group))
                    return
                except Exception:
                    pass  # some call's statements failed: each on its own, to tell whose
            for each in group:
                try:
                    self._transaction(driver, each.statements)
                except Exception as exc:
                    each.error = exc
                each.done = True
        except BaseException as exc:  # (interrupted: those not written yet must not think they were)
            for each in group:
                if not each.done:
                    each.error = exc
            raise
        finally:
            for each in group:
                each.done = True

    def _transaction(self, driver: Any, statements: Sequence[Statement]) -> None:
        if _alone(statements):
            driver.execute(statements[0][0], statements[0][1])  # (no autobegin: a transaction by itself)
            self.wrote()
            return
        driver.execute("BEGIN IMMEDIATE")
        try:
            execute_each(driver, statements)
            driver.execute("COMMIT")
        except BaseException:
            if driver.in_transaction:
                driver.execute("ROLLBACK")
            raise
        self.wrote()

    def _execute_alone_pg(self, sql: str, params: Any) -> int:
        def execute(cursor: Any) -> int:
            cursor.execute(sql, params)
            return cursor.rowcount
        return self._on_raw_pg(execute, autocommit=True)

    def _on_raw_pg(self, work: Callable[[Any], T], autocommit: bool) -> T:
        """`work` on a cursor of a pooled connection, committed by itself (`autocommit`: each statement
        alone) or as one transaction; a lost connection is DatabaseUnavailable."""
        try:
            pooled = self.engine.raw_connection()
        except OperationalError as exc:  # cannot connect
            raise DatabaseUnavailable() from exc
        dbapi = self.engine.dialect.dbapi
        try:
            driver = pooled.driver_connection
            driver.autocommit = autocommit
            try:
                with driver.cursor() as cursor:
                    done = work(cursor)
                if not autocommit:
                    driver.commit()
                return done
            except BaseException:
                if not autocommit and not driver.closed:
                    driver.rollback()
                raise
            finally:
                if not driver.closed:
                    driver.autocommit = False  # the pool's next user gets a transaction as always
        except (dbapi.OperationalError, dbapi.InterfaceError) as exc:
            # The connection died, and those opened with it likely too (a restart, a failover): as
            # SQLAlchemy does on a disconnect it sees itself, the pool replaces all of them.
            self.engine.pool._invalidate(pooled, exc)
            raise DatabaseUnavailable() from exc
        finally:
            pooled.close()  # back to the pool

    def connection(self, write: bool = False) -> tuple[Connection, bool]:
        """A connection for one unit of work, and whether to close it afterwards.

        SQLite: each thread keeps one connection for reading (to a local file, as cheap to hold as a
        file handle), sparing every transaction a pool checkout; writers, who take turns anyway
        (`write_lock`), share one, whose page cache no other connection's writes make stale.
        PostgreSQL: one from the pool, given back after.
        """
        if not self.is_sqlite:
            return self.engine.connect(), True
        if write:
            if _gone(self._writer):
                self._writer = self._connect()
            return self._writer, False  # type: ignore[return-value]
        conn = getattr(self._local, "conn", None)
        if _gone(conn):
            conn = self._local.conn = self._connect()
        return conn, False

    def _connect(self) -> Connection:
        conn = self.engine.connect()
        with self._lock:
            self._held.append(conn)
        return conn

    def start_checkpointing(self, interval_s: float = 0.2) -> None:
        """SQLite file: checkpoint the WAL on a thread of its own from now on (connections opened
        later leave it to that thread). Elsewhere nothing to do."""
        if self.file_path is not None and self.checkpointer is None:
            self.checkpointer = Checkpointer(self, interval_s)
            self.checkpointer.start()

    def dispose(self) -> None:
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        with self._lock:
            held, self._held = self._held, []
        for conn in held:
            try:
                conn.close()
            except Exception:  # closing a connection that is gone already
                pass
        self._local = threading.local()
        self._writer = None
        self.engine.dispose()


def _gone(conn: Connection | None) -> bool:
    return conn is None or conn.closed or conn.invalidated


def _sqlite_file(url: str) -> str | None:
    database = make_url(url).database
    return None if database in (None, "", ":memory:") else str(Path(database).resolve())


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _end_stalled_sessions(engine: Engine, idle_ms: int) -> None:
    """Every session of the pool, as it is opened, has the server end it when it idles inside a
    transaction for `idle_ms` (set per session: the URL's own `options`, a search_path say, stay)."""
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        with dbapi_conn.cursor() as cursor:
            cursor.execute(f"SET idle_in_transaction_session_timeout = {int(idle_ms)}")
        dbapi_conn.commit()


def _sqlite_engine(database: Database, url: str, synchronous: str) -> Engine:
    if synchronous.upper() not in _SYNC_MODES:
        raise ValueError(f"storage.sqlite_synchronous must be one of {', '.join(_SYNC_MODES)}")
    # No pool: each thread holds its own connection for good (Database.connection), however many
    # threads the thread pools have.
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, poolclass=NullPool,
                           future=True)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # A writer that starts the log over cuts its file back to this size (by default never).
        cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
        if database.checkpointer is not None:
            cursor.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job, off the request path
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.info.get("pe_write", True)
        # Straight to the driver: this runs for every transaction, and SQLAlchemy's own execute path
        # costs more than the statement.
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


class Checkpointer(threading.Thread):
    """Copies committed WAL pages into the database file, on its own connection: `interval_s` after
    a write, or at once when woken after `CHECKPOINT_EVERY` of them.

    SQLite otherwise does this inside the commit that crosses its threshold, making that request wait
    for it. A PASSIVE checkpoint never blocks writers or readers; once it has copied everything, the
    next writer starts the WAL over, so it stays small. If the thread stops, SQLite's checkpoint at
    the last connection's close still moves every page.
    """

    def __init__(self, database: Database, interval_s: float) -> None:
        super().__init__(name="sqlite-checkpointer", daemon=True)
        self._database, self._interval = database, interval_s
        self._stopped = False
        self._due = threading.Event()

    def wake(self) -> None:
        self._due.set()

    def run(self) -> None:
        seen = -1
        conn = sqlite3.connect(self._database.file_path, timeout=30, isolation_level=None,
                               check_same_thread=False)
        try:
            while True:
                self._due.wait(self._interval)
                self._due.clear()
                if self._stopped:
                    break
                if self._database.writes != seen:
                    seen = self._database.writes
                    self.checkpoint(conn)
                    # Writes that came in meanwhile are only in the log. Copy those few with writers
                    # held off: only a log copied to its end is started over by the next writer, so
                    # under steady writes it would otherwise only ever grow. (The checkpoint's own
                    # figures cannot tell: they count the log as it was when the checkpoint began.)
                    with self._database.write_lock:  # type: ignore[union-attr]  # SQLite has one
                        self.checkpoint(conn)
            self.checkpoint(conn)
        finally:
            conn.close()

    @staticmethod
    def checkpoint(conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # busy or I/O: the next round tries again
            log.warning("WAL checkpoint failed: %s", exc)

    def stop(self) -> None:
        self._stopped = True
        self._due.set()
        self.join(timeout=30)


class RowsBusy(Exception):
    """A statement of background work gave up waiting for rows another session holds (its lock
    timeout): the work is tried again at its next round, not waited for."""


class AlreadyStored(Exception):
    """A row with that key is there already: another request, or another node, wrote it first."""


def _duplicate(exc: BaseException | None) -> bool:
    if not isinstance(exc, IntegrityError):
        return False
    return (getattr(exc.orig, "pgcode", None) == "23505"  # unique_violation
            or getattr(exc.orig, "sqlite_errorname", None) in ("SQLITE_CONSTRAINT_UNIQUE", "SQLITE_CONSTRAINT_PRIMARYKEY"))


def _busy(exc: BaseException | None) -> bool:
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "pgcode", None) == "55P03"  # lock_not_available


def _lost(exc: BaseException | None) -> bool:
    """Whether `exc` says the connection to the database is gone (SQLAlchemy tells a disconnect apart)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


class UnitOfWork:
    """One transaction. Leaving it without `commit()` rolls back; hooks run only after a commit."""

    def __init__(self, database: Database, write: bool, on: Connection | None = None,
                 lock_timeout_ms: int | None = None, single: bool = False) -> None:
        self._database, self._write, self._on, self._single = database, write, on, single
        self._lock_timeout = None if database.is_sqlite else lock_timeout_ms
        self._after: list[Callable[[], None]] = []
        self.committed = False

    def __enter__(self) -> "UnitOfWork":
        self._serialised = self._database.write_lock if self._write else None
        if self._serialised is not None:
            self._serialised.acquire()
        try:
            if self._on is not None:
                self.conn, self._close = self._on, False
            else:
                self.conn, self._close = self._database.connection(self._serialised is not None)
            self.conn.info["pe_write"] = self._write  # read by the SQLite begin hook: BEGIN IMMEDIATE or not
            self._autocommit = self._close and (self._single or not self._write) and not self._database.is_sqlite \
                and self._lock_timeout is None
            if self._autocommit:
                # Reading under READ COMMITTED, each statement sees what was committed when it began,
                # in a transaction or not: without one, neither BEGIN nor ROLLBACK goes to the server.
                # A single write statement commits by itself.
                self.conn.connection.driver_connection.autocommit = True
            self._tx = self.conn.begin()
            if self._lock_timeout is not None:
                self.conn.exec_driver_sql(f"SET LOCAL lock_timeout = {int(self._lock_timeout)}")
        except BaseException as exc:
            self._release()
            if isinstance(exc, OperationalError) or _lost(exc):  # cannot connect, or the pool's connection died
                raise DatabaseUnavailable() from exc
            raise
        return self

    def after_commit(self, hook: Callable[[], None]) -> None:
        self._after.append(hook)

    def commit(self) -> None:
        # The call's operation-log row goes with its first change (storage/history.PendingOperation).
        flushed = history.flush_pending(self.conn) if self._write and not self._single else None
        self._tx.commit()
        self.committed = True
        if flushed is not None:
            flushed.written = True
        if self._write:
            self._database.wrote()
        self._unlock()  # the hooks may start transactions of their own
        for hook in self._after:
            hook()

    def __exit__(self, kind: object, exc: BaseException | None, traceback: object) -> None:
        """Roll back unless committed; a connection lost inside is the transient DatabaseUnavailable,
        which callers get as "unavailable, retry" and drivers as "hand the instance back"."""
        lost = _lost(exc) or self._driver_lost(exc)
        try:
            if not self.committed and self._tx.is_active:
                self._tx.rollback()
        except DBAPIError as failed:  # a rollback on a connection that died: the server rolled it back
            if not (lost or _lost(failed)):
                raise
        finally:
            self._release()
        if lost:
            raise DatabaseUnavailable() from exc
        if _busy(exc):
            raise RowsBusy(str(getattr(exc, "orig", exc)).strip()) from exc
        if _duplicate(exc):
            raise AlreadyStored(str(getattr(exc, "orig", exc)).strip()) from exc

    def _driver_lost(self, exc: BaseException | None) -> bool:
        """A disconnect raised by the driver itself, for a statement sent to it straight (`prepared`),
        which SQLAlchemy never saw: the pool replaces its connections, as for one it sees itself."""
        dbapi = self._database.engine.dialect.dbapi
        if self._database.is_sqlite or not isinstance(exc, (dbapi.OperationalError, dbapi.InterfaceError)):
            return False
        if not getattr(self.conn.connection.driver_connection, "closed", False):
            return False  # (a deadlock or a serialization failure is an OperationalError too)
        self._database.engine.pool._invalidate(self.conn.connection, exc)
        return True

    def _release(self) -> None:
        try:
            if getattr(self, "_autocommit", False):
                self._autocommit = False
                try:
                    self.conn.connection.driver_connection.autocommit = False  # the pool's next user: a transaction
                except Exception:  # a connection that died; closing it below discards it
                    pass
            if getattr(self, "_close", False):
                self.conn.close()
        finally:
            self._unlock()

    def _unlock(self) -> None:
        if self._serialised is not None:
            self._serialised.release()
            self._serialised = None
