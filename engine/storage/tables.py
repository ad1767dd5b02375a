"""The tables. Columns a query filters on are indexed (CONTRACT §5: queries run as index scans).

JSON-bearing columns are plain text written by `codec.py` under a format version, so a newer engine
can read older rows — or knowingly refuse them — on any database.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import (BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, MetaData, String,
                        Table, Text, TypeDecorator, UniqueConstraint, false, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The text of the timestamps SQLite was sent last. The clock counts whole milliseconds, so a run's
# dozen timestamps (its row's, its record's, its call's) are mostly one moment, written once, not a
# dozen times (about 1 us each). Equal moments are equal instants, whatever their zone: one text.
_WRITTEN: dict[datetime, str] = {}
_WRITTEN_KEPT = 64


class UtcDateTime(TypeDecorator):
    """Stored as naive UTC (portable across SQLite and PostgreSQL), handed out as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is not None:
            if value.tzinfo is not timezone.utc:
                value = value.astimezone(timezone.utc)
            value = value.replace(tzinfo=None)
        return value

    def bind_processor(self, dialect):
        """On SQLite, straight to the text SQLAlchemy's SQLite DATETIME writes (microseconds always
        spelled out, so text order is time order), in one step: this runs for every timestamp written."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value):
            if value is None:
                return None
            written = _WRITTEN.get(value)
            if written is None:
                if value.tzinfo is timezone.utc:  # (the clock's, spelled out: isoformat's offset costs more)
                    written = "%04d-%02d-%02d %02d:%02d:%02d.%06d" % (
                        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond)
                else:
                    written = self.process_bind_param(value, dialect).isoformat(" ", "microseconds")
                if len(_WRITTEN) >= _WRITTEN_KEPT:
                    _WRITTEN.clear()
                _WRITTEN[value] = written
            return written
        return process

    def process_result_value(self, value, dialect):
        if isinstance(value, str):  # SQLite hands back text for raw SQL results
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=timezone.utc) if value is not None else None


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _code_point_text(length: int) -> String:
    """Text compared and sorted by code point on PostgreSQL too (the "C" collation), as on SQLite:
    `ORDER BY … COLLATE "C"` (CONTRACT §5: one order) and `LIKE 'prefix%'` can then use a plain index."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


def _index(column: str, condition: str) -> Index:
    return Index(f"ix_process_instances_{column}", column, sqlite_where=text(condition),
                 postgresql_where=text(condition))


# Indexes of the rows where the column is set: most rows leave these columns NULL, so every insert
# skips them, while `column = x` and `column < x` still use them.
SPARSE_INDEXED = ("external_id", "owner_node", "parent_execution_id", "disposed_at")
# Indexes of the instances not disposed: every query but by ID is over those alone, and an instance
# disposed as it is first written (a `run` answered at its end) enters none of them.
LIVE_INDEXED = ("finished_at",)
# The shapes operators ask most, led by equalities and sorted by the next field (as SORTED's are): the
# page comes off the index in order, and the bounded total counts the index alone (an index-only scan).
SORTED_WITHIN = ((("state", "process_uri"), "created_at"), (("state",), "finished_at"))
# A query may sort by any field, and page deep: one index per field over the live instances, of the
# field then the tie-breakers (`query.order_of`), read forwards or backwards — the field led by
# `field IS NULL` where it may be empty, as `portable.sort_keys` sorts it. Those of a field that is
# never empty serve its filters too. A sort by executionId reads the primary key.
SORTED = ("created_at", "state", "owner", "process_uri", "online", "health", "external_id", "previous_node",
          "owner_node", "started_at", "finished_at")
# What the housekeeping reads every round: the instances some node runs now or may run next (READY in
# the order they became so), and nothing else — not the LOST ones, which keep their node's name, nor
# any ended or waiting one. Led by state, so that SQLite, whose statistics cannot tell READY is rare,
# still picks it.
CLAIMED_INDEX = "ix_process_instances_claimed"
CLAIMED = "disposed_at IS NULL AND health = 'OK' AND state IN ('READY', 'RUNNING')"
CLAIMED_PG = ("(disposed_at IS NULL) AND ((health)::text = 'OK'::text) AND "
              "((state)::text = ANY ((ARRAY['READY'::character varying, 'RUNNING'::character varying])::text[]))")


class ProcessInstance(Base):
    __tablename__ = "process_instances"
    __table_args__ = (*(_index(c, f"{c} IS NOT NULL") for c in SPARSE_INDEXED),
                      *(_index(c, "disposed_at IS NULL") for c in LIVE_INDEXED),
                      Index(CLAIMED_INDEX, "state", "state_changed_at", sqlite_where=text(CLAIMED),
                            postgresql_where=text(CLAIMED_PG)))

    execution_id: Mapped[str] = mapped_column(_code_point_text(36), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(_code_point_text(255))
    process_uri: Mapped[str] = mapped_column(_code_point_text(1000))
    # The definition revision in use, denormalised so a snapshot needs no join.
    definition_id: Mapped[int] = mapped_column(ForeignKey("definitions.id"))
    definition_name: Mapped[str | None] = mapped_column(String(255))
    definition_location: Mapped[str] = mapped_column(String(1000))
    definition_changed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    definition_version: Mapped[int] = mapped_column(Integer)
    definition_origin: Mapped[str] = mapped_column(String(16))        # repository | stream
    definition_revision: Mapped[str] = mapped_column(String(64))

    state: Mapped[str] = mapped_column(_code_point_text(16))
    state_change_index: Mapped[int] = mapped_column(Integer)
    state_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    health: Mapped[str] = mapped_column(_code_point_text(24))
    health_message: Mapped[str | None] = mapped_column(Text)
    health_exception_type: Mapped[str | None] = mapped_column(String(255))
    online: Mapped[bool] = mapped_column(Boolean)
    debug: Mapped[bool] = mapped_column(Boolean)
    locked: Mapped[bool] = mapped_column(Boolean)
    auto_dispose: Mapped[str] = mapped_column(String(16))
    thread_pool_id: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str | None] = mapped_column(Text)

    owner: Mapped[str] = mapped_column(_code_point_text(255))
    current_user: Mapped[str] = mapped_column(String(255))
    current_roles: Mapped[str] = mapped_column(Text)              # JSON list
    permissions: Mapped[str] = mapped_column(Text)                # JSON {name: [privileges]}

    owner_node: Mapped[str | None] = mapped_column(_code_point_text(255))
    previous_node: Mapped[str | None] = mapped_column(_code_point_text(255))
    process_engine_id: Mapped[str] = mapped_column(String(255))
    parent_execution_id: Mapped[str | None] = mapped_column(_code_point_text(36))

    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disposed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    # Saved execution state, read and written by codec.py under state_format.
    state_format: Mapped[int] = mapped_column(Integer)
    current_element: Mapped[str | None] = mapped_column(String(1000))
    position: Mapped[str | None] = mapped_column(Text)
    pipeline: Mapped[str] = mapped_column(Text)
    exception_report: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[str] = mapped_column(Text)
    instance_constants: Mapped[str] = mapped_column(Text)
    breakpoints: Mapped[str] = mapped_column(Text)
    log_settings: Mapped[str] = mapped_column(Text)
    terminate_request: Mapped[str | None] = mapped_column(Text)
    # Bumped by every change of execution state; a writer that saw another value has lost the instance.
    exec_version: Mapped[int] = mapped_column(Integer)


def _sort_index(table: Any, column: str, within: tuple[str, ...] = ()) -> Index:
    """(within…, [column IS NULL,] column, createdAt, executionId) over the live rows: the IS NULL lead
    where the column may be empty, as `portable.sort_keys` sorts it."""
    ties = ("execution_id",) if column == "created_at" else ("created_at", "execution_id")
    lead = (text(f"({column} IS NULL)"),) if table.c[column].nullable else ()
    return Index(f"ix_process_instances_{'_'.join((*within, column))}_sorted",
                 *(table.c[c] for c in within), *lead, table.c[column], *(table.c[c] for c in ties),
                 sqlite_where=text("disposed_at IS NULL"), postgresql_where=text("disposed_at IS NULL"))


for _column in SORTED:
    _sort_index(ProcessInstance.__table__, _column)
for _within, _column in SORTED_WITHIN:
    _sort_index(ProcessInstance.__table__, _column, _within)


class ProcessPermission(Base):
    """One row per (instance, ACE name, privilege), so privilege checks run inside SQL queries."""

    __tablename__ = "process_permissions"
    __table_args__ = (Index("ix_process_permissions_name_privilege", "name", "privilege"),)

    execution_id: Mapped[str] = mapped_column(ForeignKey("process_instances.execution_id", ondelete="CASCADE"),
                                              primary_key=True)
    name: Mapped[str] = mapped_column(String(255), primary_key=True)
    privilege: Mapped[str] = mapped_column(String(16), primary_key=True)


class WaitState(Base):
    """Why a WAITING instance waits: a timer (due_at), a signal (startProcess) or a child process."""

    __tablename__ = "wait_states"

    execution_id: Mapped[str] = mapped_column(ForeignKey("process_instances.execution_id", ondelete="CASCADE"),
                                              primary_key=True)
    element_id: Mapped[str] = mapped_column(String(1000))
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    child_execution_id: Mapped[str | None] = mapped_column(_code_point_text(36), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ProcessLog(Base):
    __tablename__ = "process_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(_code_point_text(36), index=True)
    logged_at: Mapped[datetime] = mapped_column(UtcDateTime)
    level: Mapped[str] = mapped_column(String(16))
    element_id: Mapped[str | None] = mapped_column(String(1000))
    message: Mapped[str] = mapped_column(Text)


class Definition(Base):
    """Every content revision of a definition the engine has seen; `version` counts them per URI."""

    __tablename__ = "definitions"
    __table_args__ = (UniqueConstraint("uri", "revision"), UniqueConstraint("uri", "version"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    uri: Mapped[str] = mapped_column(String(1000))
    revision: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str | None] = mapped_column(String(255))
    origin: Mapped[str] = mapped_column(String(16))                # repository | stream
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[bytes] = mapped_column(LargeBinary)


class Node(Base):
    """Engine nodes alive (heartbeat) — a node silent for cluster.lost_after_ms is gone."""

    __tablename__ = "nodes"

    node_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    online: Mapped[bool] = mapped_column(Boolean)
    master: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    running: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # setEngineOnline for other nodes: each node applies the flag asked of it at its next heartbeat.
    requested_online: Mapped[bool | None] = mapped_column(Boolean)


class Watcher(Base):
    """A process watcher (spec: "Process Watchers"): stored, so it outlives a restart of the node."""

    __tablename__ = "watchers"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    execution_id: Mapped[str] = mapped_column(_code_point_text(36), index=True)
    group_id: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(255))
    conditions: Mapped[str] = mapped_column(Text)                   # JSON of WatchConditions
    peek: Mapped[bool] = mapped_column(Boolean)
    inspect_pipeline: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished: Mapped[bool] = mapped_column(Boolean, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    captured: Mapped[str | None] = mapped_column(Text)              # the instance row as it was, JSON


class ServiceInstance(Base):
    """The current instance of each service process (at most one running)."""

    __tablename__ = "service_instances"

    service_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    execution_id: Mapped[str] = mapped_column(_code_point_text(36))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)


class IdempotencyKey(Base):
    """A key a caller sent with a start: repeating it returns the execution created the first time,
    and — once that was handed out — the very answer handed out, even after the process is gone."""

    __tablename__ = "idempotency_keys"

    caller: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    execution_id: Mapped[str] = mapped_column(_code_point_text(36))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    captured: Mapped[str | None] = mapped_column(Text)              # the instance row handed out, JSON


class EngineState(Base):
    """Facts about the whole engine (every node) that outlive restarts, e.g. the maintenance level."""

    __tablename__ = "engine_state"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


# -- the history (CONTRACT §12): what outlives the processes ---------------------------------------

# What a window's statistics read of each record besides its end state (`storage.history._ended`):
# the indexes a reader's records are found by carry them on PostgreSQL (INCLUDE), which then answers
# from the index alone.
STATISTICS_FIELDS = ("process_uri", "duration_ms")


def _history_index(column: str) -> Index:
    return Index(f"ix_process_history_{column}", column, sqlite_where=text(f"{column} IS NOT NULL"),
                 postgresql_where=text(f"{column} IS NOT NULL"))


class ProcessHistoryRecord(Base):
    """One row per process that ended: written in the transaction that ends it, kept `history.ttl_days`
    after that, whether or not the process was disposed. Its end is never empty, so no index needs an
    `IS NULL` lead for it (`portable.sort_keys`)."""

    __tablename__ = "process_history"
    # Every index is paid for by every process's end. Besides the lookups by ID, externalId and parent,
    # these serve the shapes operators ask most, at 10M records: all by their end (sorted, paged deep,
    # a time window, retention); a processUri's by end state and end (its failures; its statistics);
    # an owner's in a time window; a processUri's slow ones. Each ends with the tie-breakers
    # (`query.order_of`): a page sorted by its last field comes off it in order, read forwards or
    # backwards, and any page is picked from it alone (`history.find_records` picks IDs first).
    __table_args__ = (_history_index("external_id"), _history_index("parent_execution_id"),
                      Index("ix_process_history_finished_at", "finished_at", "created_at", "execution_id"),
                      Index("ix_process_history_process_uri_end_state_finished_at", "process_uri", "end_state",
                            "finished_at", "created_at", "execution_id"),
                      # (and the end state: an owner's failures, and how many, read off the index alone;
                      # on PostgreSQL with the processUri and duration besides, so that the statistics of
                      # a user who is no admin read their own records off it too)
                      Index("ix_process_history_owner_finished_at", "owner", "finished_at", "created_at",
                            "execution_id", "end_state", postgresql_include=list(STATISTICS_FIELDS)),
                      Index("ix_process_history_process_uri_duration_ms", "process_uri", "duration_ms", "created_at",
                            "execution_id"))

    execution_id: Mapped[str] = mapped_column(_code_point_text(36), primary_key=True)
    external_id: Mapped[str | None] = mapped_column(_code_point_text(255))
    process_uri: Mapped[str] = mapped_column(_code_point_text(1000))
    definition_version: Mapped[int | None] = mapped_column(Integer)
    owner: Mapped[str] = mapped_column(_code_point_text(255))
    parent_execution_id: Mapped[str | None] = mapped_column(_code_point_text(36))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime] = mapped_column(UtcDateTime)
    duration_ms: Mapped[int] = mapped_column(BigInteger)
    end_state: Mapped[str] = mapped_column(_code_point_text(16))
    message: Mapped[str | None] = mapped_column(Text)
    exception_type: Mapped[str | None] = mapped_column(_code_point_text(255))
    exception_source: Mapped[str | None] = mapped_column(Text)
    nodes: Mapped[str] = mapped_column(Text)                      # JSON list: the nodes that ran it last
    pipeline: Mapped[str | None] = mapped_column(Text)            # level full: the end pipeline (codec)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HistoryDay(Base):
    """What the records of the processes that ended on a UTC day add up to, per processUri: counts by end
    state, the longest duration and the durations by bucket (`support.durations`). The master rolls up
    each closed day once; statistics over long windows read these, and the records only at their edges.
    A day without a row is read from its records."""

    __tablename__ = "history_days"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    process_uri: Mapped[str] = mapped_column(_code_point_text(1000), primary_key=True)
    counts: Mapped[str] = mapped_column(Text)                     # JSON {endState: n}
    longest_ms: Mapped[int] = mapped_column(BigInteger)
    durations: Mapped[str] = mapped_column(Text)                  # JSON [[bucket, n], …]
    # level activity when rolled up: JSON {element ID: [count, failed, longest, [[bucket, n], …]]}
    elements: Mapped[str | None] = mapped_column(Text)
    rolled_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HistoryHealthChange(Base):
    """A change of a process's health (LOST, recovered), written in the transaction that makes it —
    while the process lives, before it has a record; its record shows it, and its nodes."""

    __tablename__ = "history_health_changes"
    __table_args__ = (Index("ix_history_health_changes_execution_id_id", "execution_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(_code_point_text(36))
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    health: Mapped[str] = mapped_column(String(32))
    node: Mapped[str | None] = mapped_column(String(255))         # the node that noted it
    message: Mapped[str | None] = mapped_column(Text)
    nodes: Mapped[str] = mapped_column(Text)                      # JSON list: the nodes that had run it by then


class HistoryTrail(Base):
    """The elements a process left between two saves (level `activity`), in the save's transaction: one
    row a save, not one an element, so a save pays for one insert whatever it passed."""

    __tablename__ = "history_trails"
    __table_args__ = (Index("ix_history_trails_execution_id_id", "execution_id", "id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    execution_id: Mapped[str] = mapped_column(_code_point_text(36))
    node: Mapped[str | None] = mapped_column(String(255))         # the node that drove them
    # JSON list of [seq, element ID, entered at, left at, outcome, iteration, data]: seq the order the
    # process entered its elements, data (level `full`, an assign) its entry as it left it (codec)
    visits: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class OperationLogEntry(Base):
    """A state-changing call through either door, refused ones too; never a password or a data
    store's content among its parameters."""

    __tablename__ = "operation_log"
    __table_args__ = (Index("ix_operation_log_user_name_at", "user_name", "at"),
                      Index("ix_operation_log_target_at", "target", "at"))

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    user_name: Mapped[str] = mapped_column(_code_point_text(255))
    operation: Mapped[str] = mapped_column(_code_point_text(64))
    target_kind: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(_code_point_text(1000))
    outcome: Mapped[str] = mapped_column(_code_point_text(16))
    parameters: Mapped[str] = mapped_column(Text)                 # JSON list of [name, value]
    node: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)


instances = ProcessInstance.__table__
permissions = ProcessPermission.__table__
wait_states = WaitState.__table__
process_log = ProcessLog.__table__
definitions = Definition.__table__
nodes = Node.__table__
watchers = Watcher.__table__
service_instances = ServiceInstance.__table__
engine_state = EngineState.__table__
idempotency_keys = IdempotencyKey.__table__
process_history = ProcessHistoryRecord.__table__
history_trails = HistoryTrail.__table__
# A record's query fields (storage.history.HISTORY_COLUMNS, but its ID): its readers carry them.
RECORD_QUERY_COLUMNS = ("external_id", "process_uri", "definition_version", "owner", "parent_execution_id",
                        "created_at", "started_at", "finished_at", "duration_ms", "end_state", "exception_type")
# The names besides its owner that may read a process's history: the ACEs that granted `read` or
# `admin` on it when it was recorded (CONTRACT §12: others see what they could read). Each row carries
# its record's query fields, so that the records granted to a name are queried on this table alone,
# off an index by name in the order findHistory sorts by — by default (createdAt, executionId) or by
# their end — as far as the page reaches, and counted off the index too: not every record granted to
# the name looked up, and sorted, before the page is cut (issue 17: a role that may read 10,000
# records of 10M). Only records with a grant have rows here: the other ends pay nothing for it.
# (No foreign key: a record and its readers are staged apart, and may arrive in either order;
# retention deletes both.)
history_readers = Table(
    "history_readers", Base.metadata,
    Column("execution_id", _code_point_text(36), primary_key=True),
    Column("name", String(255), primary_key=True),
    *(Column(c.name, c.type, nullable=c.nullable) for c in process_history.c if c.name in RECORD_QUERY_COLUMNS),
    # each ends with the two fields every granted read filters by, or most often: read from the index
    Index("ix_history_readers_name_finished_at", "name", "finished_at", "created_at", "execution_id", "owner",
          "end_state", postgresql_include=list(STATISTICS_FIELDS)),
    Index("ix_history_readers_name_created_at", "name", "created_at", "execution_id", "owner", "end_state"))
history_health_changes = HistoryHealthChange.__table__
history_days = HistoryDay.__table__
operation_log = OperationLogEntry.__table__


def _staged(table: Table, carrying: Table | None = None) -> Table:
    """`table`'s columns in a table of their own with no index but the order they came in: a row an end
    or a call writes here, in its own transaction, costs one index, not the record's seven; the engine
    moves them over in batches (`storage.history.move_staged`) in the background and before every
    history query, so what a caller was told is as durable as before and every query sees it. With
    `carrying`: that table's columns too, prefixed `call_` and empty but for a row that carries one of
    those as well."""
    carried = () if carrying is None else carrying.c
    return Table(f"{table.name}_staged", Base.metadata,
                 Column("stage_id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
                 *(Column(c.name, c.type, nullable=c.nullable) for c in table.c if c.name != "id"),
                 *(Column(f"{CARRIED_CALL}{c.name}", c.type, nullable=True) for c in carried if c.name != "id"))


# A process that ends in the call that started it (a `run` answered at its end) stages its record and
# that call's operation-log row as one row: one INSERT, committed by itself, not a transaction of two.
CARRIED_CALL = "call_"
process_history_staged = _staged(process_history, carrying=operation_log)
history_readers_staged = _staged(history_readers)
operation_log_staged = _staged(operation_log)
