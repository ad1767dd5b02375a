"""What the command line asks of an engine beyond the spec's operations: a process's log and the kind
of its wait (to print a run's log and settle it through timers), and bringing a database's tables up
to date (`process-engine db upgrade`)."""
from __future__ import annotations

from ..model.results import LogEntry
from ..runtime.node import ProcessEngine
from ..security.authorization import Principal, require_admin
from ..storage import instances as store
from ..storage.database import Database


def get_process_log(pe: ProcessEngine, principal: Principal, execution_id: str) -> list[LogEntry]:
    """The lines a process logged, oldest first."""
    require_admin(principal, "getProcessLog")
    with pe.db.unit_of_work(write=False) as uow:
        rows = store.read_log(uow.conn, execution_id)
    return [LogEntry(row["logged_at"], row["level"], row["element_id"], row["message"]) for row in rows]


def waits_for_signal(pe: ProcessEngine, principal: Principal, execution_id: str) -> bool:
    """Whether a waiting process waits for a caller to continue it (not for a timer or a child)."""
    require_admin(principal, "waitsForSignal")
    with pe.db.unit_of_work(write=False) as uow:
        wait = store.get_wait(uow.conn, execution_id)
    return wait is not None and wait.kind == "signal"


def upgrade_database(url: str, sqlite_synchronous: str) -> None:
    """Migrate the database at `url` to this engine's schema (no engine need run on it)."""
    database = Database(url, sqlite_synchronous=sqlite_synchronous)
    try:
        database.upgrade()
    finally:
        database.dispose()
