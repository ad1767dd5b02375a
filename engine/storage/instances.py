"""Repository functions for process instances and what hangs off them. Each takes a connection and
never commits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from sqlalchemy import and_, bindparam, delete, func, insert, literal, select, text, union_all, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.util import ClauseAdapter

from ..support import jsontext
from .portable import leading_join
from .prepared import Prepared, Statement
from .tables import CLAIMED, UtcDateTime, instances, permissions, process_log, wait_states

if TYPE_CHECKING:
    from .database import Database


@dataclass
class InstanceRecord:
    """One row of process_instances; JSON columns stay encoded until someone needs them."""

    execution_id: str
    external_id: str | None
    process_uri: str
    definition_id: int
    definition_name: str | None
    definition_location: str
    definition_changed_at: datetime | None
    definition_version: int
    definition_origin: str
    definition_revision: str
    state: str
    state_change_index: int
    state_changed_at: datetime
    health: str
    health_message: str | None
    health_exception_type: str | None
    online: bool
    debug: bool
    locked: bool
    auto_dispose: str
    thread_pool_id: str | None
    message: str | None
    owner: str
    current_user: str
    current_roles: str
    permissions: str
    owner_node: str | None
    previous_node: str | None
    process_engine_id: str
    parent_execution_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    disposed_at: datetime | None
    state_format: int
    current_element: str | None
    position: str | None
    pipeline: str
    exception_report: str | None
    attributes: str
    instance_constants: str
    breakpoints: str
    log_settings: str
    terminate_request: str | None
    exec_version: int

    @classmethod
    def from_row(cls, row: Any) -> "InstanceRecord":
        return cls(**row._mapping)

    def as_values(self) -> dict[str, Any]:
        return dict(self.__dict__)


def record_to_json(record: InstanceRecord) -> str:
    """The row as JSON (timestamps ISO 8601), e.g. what a watcher captured."""
    return jsontext.dumps({k: v.isoformat() if isinstance(v, datetime) else v for k, v in record.__dict__.items()})


def record_from_json(text: str) -> InstanceRecord:
    data = jsontext.loads(text)
    for name in _TIMESTAMPS:
        if data.get(name) is not None:
            data[name] = datetime.fromisoformat(data[name])
    return InstanceRecord(**data)


_TIMESTAMPS = ("definition_changed_at", "state_changed_at", "created_at", "started_at", "finished_at", "disposed_at")


LIVE = instances.c.disposed_at.is_(None)

# Built once: SQLAlchemy memoises the cache key of a statement object, so reusing these (with the
# values passed as parameters) skips most of its per-call statement work on the hot path.
_BY_ID = instances.c.execution_id == bindparam("x_id")
_INSERT = insert(instances)
_GET = select(instances).where(_BY_ID, LIVE)
_GET_ANY = select(instances).where(_BY_ID)
_GET_LOCKED = _GET.with_for_update()
_UPDATE = update(instances).where(_BY_ID, LIVE)
_UPDATE_GUARDED = update(instances).where(_BY_ID, LIVE, instances.c.exec_version == bindparam("x_version"))


# The INSERT of a whole instance row; the guarded UPDATE of some of its columns (the shape: their names).
_ROW_INSERT = Prepared(lambda _: insert(instances).values(
    {c.name: bindparam(c.name, type_=c.type) for c in instances.c}))
_ROW_UPDATE = Prepared(lambda names: _UPDATE_GUARDED.values(
    {name: bindparam(f"v_{name}", type_=instances.c[name].type) for name in names}))


def insert_values(conn: Connection, values: dict[str, Any]) -> None:
    """Insert a whole row inside the unit of work that `conn` belongs to."""
    _ROW_INSERT.execute(conn, values)


def insert_statement(db: Database, values: dict[str, Any]) -> Statement:
    """The INSERT of a whole row, for `Database.execute_together`."""
    return _ROW_INSERT.statement(db.engine.dialect, values)


def insert_alone(db: Database, values: dict[str, Any]) -> None:
    """Insert a whole row as a transaction of its own (see `Database.execute_alone`)."""
    db.execute_alone(*_ROW_INSERT(db.engine.dialect, values))


def update_alone(db: Database, execution_id: str, values: dict[str, Any], expect_version: int) -> bool:
    """Update some columns of one live instance, if nobody changed its execution state since, as a
    transaction of its own (see `Database.execute_alone`); False if it was not there as expected."""
    params = {f"v_{name}": value for name, value in values.items()}
    params.update(x_id=execution_id, x_version=expect_version)
    return db.execute_alone(*_ROW_UPDATE(db.engine.dialect, params, tuple(values))) == 1


def insert_instance(conn: Connection, record: InstanceRecord) -> None:
    insert_values(conn, record.as_values())


def get_instance(conn: Connection, execution_id: str, *, for_update: bool = False,
                 include_disposed: bool = False) -> InstanceRecord | None:
    query = _GET_ANY if include_disposed else _GET_LOCKED if for_update else _GET
    row = conn.execute(query, {"x_id": execution_id}).first()
    return InstanceRecord.from_row(row) if row is not None else None


_CLAIM = _UPDATE_GUARDED.where(
    instances.c.state == "READY", instances.c.online.is_(True), instances.c.health == "OK",
    (instances.c.owner_node.is_(None)) | (instances.c.owner_node == bindparam("x_node")))


_TAKE_READY = (update(instances)
               .where(_BY_ID, LIVE, instances.c.state == "READY", instances.c.online.is_(True),
                      instances.c.health == "OK",
                      (instances.c.owner_node.is_(None)) | (instances.c.owner_node == bindparam("x_node")))
               .values(state="RUNNING", state_change_index=instances.c.state_change_index + 1,
                       state_changed_at=bindparam("x_at", type_=UtcDateTime()),
                       started_at=func.coalesce(instances.c.started_at, bindparam("x_at", type_=UtcDateTime())),
                       process_engine_id=bindparam("x_node"), exec_version=instances.c.exec_version + 1,
                       owner_node=bindparam("x_node"), previous_node=bindparam("x_node"))
               .returning(*instances.c))


def take_ready(conn: Connection, execution_id: str, node_id: str, at: datetime) -> InstanceRecord | None:
    """Claim a READY, online, healthy instance for `node_id` as a driver's claim would (RUNNING, the
    state change counted), in one statement with no read before it; its row as claimed, or None if it
    is not there to take."""
    row = conn.execute(_TAKE_READY, {"x_id": execution_id, "x_node": node_id, "x_at": at}).first()
    return InstanceRecord.from_row(row) if row is not None else None


def claim_instance(conn: Connection, execution_id: str, version: int, node_id: str, values: dict[str, Any]) -> bool:
    """Take a READY, online, healthy instance for `node_id` — if nobody changed or claimed it since."""
    params = dict(values, x_id=execution_id, x_version=version, x_node=node_id)
    return conn.execute(_CLAIM, params).rowcount == 1


def update_instance(conn: Connection, execution_id: str, values: dict[str, Any], *,
                    expect_version: int | None = None, where: ColumnElement | None = None) -> bool:
    """Update one live instance; with `expect_version` only if nobody changed its execution state
    since, and with `where` only if that holds too."""
    params = dict(values, x_id=execution_id)
    if where is not None:
        statement = _UPDATE.where(where)
        if expect_version is not None:
            statement = statement.where(instances.c.exec_version == bindparam("x_version"))
    else:
        statement = _UPDATE if expect_version is None else _UPDATE_GUARDED
    if expect_version is not None:
        params["x_version"] = expect_version
    return conn.execute(statement, params).rowcount == 1


def mark_disposed(conn: Connection, execution_ids: Sequence[str], at: datetime) -> int:
    """Dispose instances (in batches: SQLite limits the parameters of one statement)."""
    done = 0
    for start in range(0, len(execution_ids), 500):
        batch = list(execution_ids[start:start + 500])
        done += conn.execute(update(instances).where(instances.c.execution_id.in_(batch), LIVE)
                             .values(disposed_at=at, position=None)).rowcount
        conn.execute(delete(wait_states).where(wait_states.c.execution_id.in_(batch)))
    return done


def find_instances(conn: Connection, where: ColumnElement, order: Sequence[ColumnElement], offset: int,
                   limit: int, *, for_update: bool = False, parts: Sequence[ColumnElement] = ()) -> list[InstanceRecord]:
    """One page of the live instances `where` selects, in `order`; with `for_update` locked for the
    transaction (on PostgreSQL), so that nobody starts or disposes them before it ends. `parts`, if
    given, select disjoint sets whose union is `where`'s: the page is then merged from each part's
    first offset + limit rows, which an index may hand over in order where `where`'s rows would all
    be read and sorted."""
    query = select(instances).where(LIVE, where).order_by(*order).offset(offset).limit(limit)
    if parts and not for_update:
        firsts = [select(instances).where(LIVE, part).order_by(*order).limit(offset + limit).subquery()
                  for part in parts]
        merged = union_all(*(select(first) for first in firsts)).subquery()
        on_merged = ClauseAdapter(merged)
        query = select(merged).order_by(*(on_merged.traverse(key) for key in order)).offset(offset).limit(limit)
    elif for_update:
        query = query.with_for_update(of=instances)
    return [InstanceRecord.from_row(r) for r in conn.execute(query)]


def count_instances(conn: Connection, where: ColumnElement, up_to: int | None = None) -> int:
    """How many live instances `where` selects; with `up_to`, counting stops after `up_to + 1` of them,
    so a total over millions of rows costs no more than that many."""
    if up_to is None:
        return conn.execute(select(func.count()).select_from(instances).where(LIVE, where)).scalar_one()
    # No column of the rows: a constant lets an index that holds the condition's columns count alone.
    matches = select(literal(1).label("one")).select_from(instances).where(LIVE, where).limit(up_to + 1).subquery()
    return conn.execute(select(func.count()).select_from(matches)).scalar_one()


def children_of(conn: Connection, execution_id: str, limit: int) -> list[tuple[str, str, str]]:
    """The live instances a `call` of this one started (ID, processUri, state), oldest first."""
    rows = conn.execute(select(instances.c.execution_id, instances.c.process_uri, instances.c.state)
                        .where(instances.c.parent_execution_id == execution_id, LIVE)
                        .order_by(instances.c.created_at, instances.c.execution_id).limit(limit))
    return [tuple(row) for row in rows]  # type: ignore[misc]


def find_ids(conn: Connection, where: ColumnElement, limit: int | None = None) -> list[str]:
    query = select(instances.c.execution_id).where(LIVE, where).order_by(instances.c.created_at)
    return list(conn.execute(query.limit(limit) if limit else query).scalars())


# -- permissions ------------------------------------------------------------------------------
def replace_permission(conn: Connection, execution_id: str, name: str, privileges: Iterable[str]) -> None:
    conn.execute(delete(permissions).where(permissions.c.execution_id == execution_id,
                                           permissions.c.name == name))
    rows = [{"execution_id": execution_id, "name": name, "privilege": p} for p in privileges]
    if rows:
        conn.execute(insert(permissions), rows)


# -- wait states ------------------------------------------------------------------------------
@dataclass(frozen=True)
class WaitRecord:
    execution_id: str
    element_id: str
    kind: str                      # timer | signal | child
    due_at: datetime | None
    child_execution_id: str | None
    created_at: datetime


def put_wait(conn: Connection, wait: WaitRecord) -> None:
    conn.execute(delete(wait_states).where(wait_states.c.execution_id == wait.execution_id))
    conn.execute(insert(wait_states).values(**wait.__dict__))


def get_wait(conn: Connection, execution_id: str) -> WaitRecord | None:
    row = conn.execute(select(wait_states).where(wait_states.c.execution_id == execution_id)).first()
    return WaitRecord(**row._mapping) if row is not None else None


def delete_wait(conn: Connection, execution_id: str) -> bool:
    return conn.execute(delete(wait_states).where(wait_states.c.execution_id == execution_id)).rowcount > 0


def due_timers(conn: Connection, until: datetime, limit: int) -> list[WaitRecord]:
    """Timers due by `until` whose instance could run now: online, healthy, not disposed. Their
    instances are locked for the transaction; one another session holds is left for a later round."""
    # The due timers lead: SQLite, told nothing of how few they are, would walk every healthy
    # instance instead (0.4 s a round at 1M instances).
    joined = leading_join(wait_states, instances, instances.c.execution_id == wait_states.c.execution_id)
    query = (select(wait_states).select_from(joined)
             .where(wait_states.c.kind == "timer", wait_states.c.due_at <= until, LIVE,
                    instances.c.online.is_(True), instances.c.health == "OK",
                    instances.c.state == "WAITING")
             .order_by(wait_states.c.due_at).limit(limit).with_for_update(of=instances, skip_locked=True))
    return [WaitRecord(**r._mapping) for r in conn.execute(query)]


def idle_definitions(conn: Connection, active: Sequence[str], selected: dict[str, Sequence[str]],
                     finished_by: datetime | None) -> tuple[list[str], list[str]]:
    """The definitions no `active` instance uses whose live instances match `selected` (each named
    column one of its values, where any are given) and ended or were created by `finished_by`: (the
    URIs of those from the repository, the revisions of those from a stream)."""
    c = instances.c
    where = [getattr(c, column).in_(values) for column, values in selected.items() if values]
    if finished_by is not None:
        where.append(func.coalesce(c.finished_at, c.created_at) <= finished_by)
    in_use = select(c.process_uri).where(LIVE, c.state.in_(active))
    idle = and_(LIVE, c.state.not_in(active), c.process_uri.not_in(in_use), *where)
    files = select(c.process_uri).distinct().where(idle, c.definition_origin != "stream")
    streams = select(c.definition_revision).distinct().where(idle, c.definition_origin == "stream")
    return list(conn.execute(files).scalars()), list(conn.execute(streams).scalars())


def set_all_online(conn: Connection, online: bool) -> list[tuple[str, str | None, str]]:
    """Set every live instance's online flag; (execution ID, thread pool, state) of each one changed."""
    c = instances.c
    other = LIVE & c.online.is_(not online)
    changed = [(r.execution_id, r.thread_pool_id, r.state)
               for r in conn.execute(select(c.execution_id, c.thread_pool_id, c.state).where(other))]
    if changed:
        conn.execute(update(instances).where(other).values(online=online))
    return changed


def live_counts(conn: Connection) -> list[tuple[str, str, int]]:
    """(state, health, how many) of the live instances, in state then health order."""
    c = instances.c
    return [tuple(row) for row in conn.execute(select(c.state, c.health, func.count()).where(LIVE)
                                               .group_by(c.state, c.health).order_by(c.state, c.health))]


def next_timer(conn: Connection) -> datetime | None:
    """When the next timer of a live, online instance is due. Walks the due_at index from its first
    timer on: waits without a due time (signals, children: most of them) are never read — on SQLite
    too, whose planner, told nothing of how few timers there are, would walk the online instances'
    index instead (0.14 s a round at 1M instances)."""
    joined = leading_join(wait_states, instances, instances.c.execution_id == wait_states.c.execution_id)
    query = (select(wait_states.c.due_at).select_from(joined)
             .where(wait_states.c.kind == "timer", wait_states.c.due_at.is_not(None), LIVE,
                    instances.c.online.is_(True))
             .order_by(wait_states.c.due_at).limit(1))
    return conn.execute(query).scalar()


# -- process log ------------------------------------------------------------------------------
def append_log(conn: Connection, entries: list[dict[str, Any]]) -> None:
    if entries:
        conn.execute(insert(process_log), entries)


def read_log(conn: Connection, execution_id: str) -> list[dict[str, Any]]:
    query = select(process_log).where(process_log.c.execution_id == execution_id).order_by(process_log.c.id)
    return [dict(r._mapping) for r in conn.execute(query)]


def purge_disposed(conn: Connection, before: datetime) -> int:
    """Delete instances disposed before `before`, with their log; how many went."""
    gone = list(conn.execute(select(instances.c.execution_id)
                             .where(instances.c.disposed_at < before).limit(1000)).scalars())
    if gone:
        conn.execute(delete(process_log).where(process_log.c.execution_id.in_(gone)))
        conn.execute(delete(permissions).where(permissions.c.execution_id.in_(gone)))
        conn.execute(delete(wait_states).where(wait_states.c.execution_id.in_(gone)))
        conn.execute(delete(instances).where(instances.c.execution_id.in_(gone)))
    return len(gone)


def runnable_ids(conn: Connection, node_id: str, limit: int) -> list[tuple[str, str | None]]:
    """READY instances this node may claim: (execution ID, thread pool ID), oldest change first. Read
    off the claimed index (READY or RUNNING, healthy, live), which holds the few that may run now."""
    query = (select(instances.c.execution_id, instances.c.thread_pool_id)
             .where(text(CLAIMED), instances.c.state == "READY", instances.c.online.is_(True),
                    (instances.c.owner_node.is_(None)) | (instances.c.owner_node == node_id))
             .order_by(instances.c.state_changed_at).limit(limit))
    return [(r.execution_id, r.thread_pool_id) for r in conn.execute(query)]
