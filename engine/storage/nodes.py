"""Engine nodes and their heartbeats; the basis of LOST detection (CONTRACT §3, §9)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, func, insert, select, text, update
from sqlalchemy.engine import Connection

from .tables import CLAIMED, instances, nodes

MASTER_LOCK = 7263552
# Whether this session holds the master lock (its only advisory lock), asked of the server: a session
# SQLAlchemy opened in place of a dead one answers SELECT 1 as well as the original did.
_HOLDS_LOCK = ("SELECT EXISTS (SELECT FROM pg_locks WHERE locktype = 'advisory' AND granted "
               f"AND pid = pg_backend_pid() AND classid = {MASTER_LOCK} AND objsubid = 2)")


def try_master_lock(conn: Connection) -> bool:
    """Take the master lock on `conn`'s session if no session holds it (PostgreSQL). One master per
    cluster, and a cluster is a database schema: the lock is the schema's. It is the session's, not the
    transaction's: it lasts until released or the session ends."""
    held = conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({MASTER_LOCK}, hashtext(current_database() "
                                "|| '.' || current_schema()))").scalar()
    conn.commit()
    return bool(held)


def holds_master_lock(conn: Connection) -> bool:
    """Whether `conn`'s session holds the master lock now."""
    held = conn.exec_driver_sql(_HOLDS_LOCK).scalar()
    conn.commit()
    return bool(held)


def notify_all(conn: Connection, channel: str, keys: list[str]) -> None:
    """Tell the sessions listening on `channel` (the other nodes) of `keys`, in one statement and one
    commit however many there are (PostgreSQL)."""
    conn.exec_driver_sql("SELECT pg_notify(%(c)s, k) FROM unnest(%(keys)s::text[]) AS k", {"c": channel, "keys": keys})
    conn.commit()


def end_session_when_idle(conn: Connection, idle_ms: int) -> None:
    """Have the server end `conn`'s session once it idles `idle_ms`, in a transaction or not (the
    latter from PostgreSQL 14 on)."""
    if conn.dialect.server_version_info >= (14,):
        conn.exec_driver_sql(f"SET idle_session_timeout = {int(idle_ms)}")
    conn.exec_driver_sql(f"SET idle_in_transaction_session_timeout = {int(idle_ms)}")
    conn.commit()


def register_node(conn: Connection, node_id: str, at: datetime, online: bool) -> None:
    conn.execute(delete(nodes).where(nodes.c.node_id == node_id))
    conn.execute(insert(nodes).values(node_id=node_id, started_at=at, heartbeat_at=at, online=online))


def heartbeat(conn: Connection, node_id: str, at: datetime, online: bool, master: bool,
              running: int) -> tuple[bool, bool | None]:
    """Refresh this node's row: (whether it still existed, the online flag another node asked of
    it, if any — taken, so it is applied once). The row is locked while it is read, so a request that
    another node writes meanwhile waits for this beat and is taken by the next one, never overwritten."""
    row = conn.execute(select(nodes.c.requested_online).where(nodes.c.node_id == node_id).with_for_update()).first()
    if row is None:
        return False, None
    conn.execute(update(nodes).where(nodes.c.node_id == node_id).values(
        heartbeat_at=at, online=online if row.requested_online is None else row.requested_online,
        master=master, running=running, requested_online=None))
    return True, row.requested_online


def request_online(conn: Connection, node_ids: list[str] | None, online: bool, asking_node: str) -> list[str]:
    """Ask nodes (all when None) to go online or offline at their next heartbeat; the IDs asked.
    The asking node applies the change itself at once, so its row records the new flag instead of a
    request: a request to itself could be taken by a heartbeat already under way and undo a later one."""
    query = select(nodes.c.node_id)
    if node_ids is not None:
        query = query.where(nodes.c.node_id.in_(node_ids))
    asked = list(conn.execute(query).scalars())
    others = [n for n in asked if n != asking_node]
    if others:
        conn.execute(update(nodes).where(nodes.c.node_id.in_(others)).values(requested_online=online))
    if asking_node in asked:
        conn.execute(update(nodes).where(nodes.c.node_id == asking_node).values(online=online))
    return asked


def all_nodes(conn: Connection) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(select(nodes).order_by(nodes.c.started_at))]


def remove_node(conn: Connection, node_id: str) -> None:
    conn.execute(delete(nodes).where(nodes.c.node_id == node_id))


def live_nodes(conn: Connection, since: datetime) -> list[str]:
    return list(conn.execute(select(nodes.c.node_id).where(nodes.c.heartbeat_at >= since)).scalars())


def forget_dead_nodes(conn: Connection, since: datetime) -> list[str]:
    dead = list(conn.execute(select(nodes.c.node_id).where(nodes.c.heartbeat_at < since)).scalars())
    if dead:
        conn.execute(delete(nodes).where(nodes.c.node_id.in_(dead)))
    return dead


LOST_BATCH = 1000


def mark_lost(conn: Connection, alive: list[str], at: datetime, node_id: str) -> list[str]:
    """Mark LOST every active instance claimed by a node that is not alive; their IDs.

    They are chosen and locked first, a batch at a time (one whose row another session holds, a node
    stalled inside a transaction, is skipped, not waited for, and marked at a later round), then changed
    by ID with the condition checked again, so nothing read before is trusted.
    """
    # The claimed index's own condition, as literal text: a partial index serves a query that states its
    # condition in the same terms, not with bound constants. The owner is compared through coalesce, or
    # PostgreSQL, which estimates the claimed rows from the state alone, reads the sparse owner_node
    # index, which holds every LOST row too.
    orphaned = and_(text(CLAIMED), func.coalesce(instances.c.owner_node, "").not_in(["", *alive]))
    # In the index's order, a batch: a plain index scan, which marks the entries of rows gone LOST as
    # dead so that later rounds skip them. A bitmap scan (what a join or no order gets) visits each of
    # them in the table, every round, until the table is vacuumed: 10,000 pages a second at 1M rows.
    choose = (select(instances.c.execution_id).where(orphaned)
              .order_by(instances.c.state, instances.c.state_changed_at).limit(LOST_BATCH)
              .with_for_update(skip_locked=True))
    marked: list[str] = []
    while True:
        chosen = list(conn.execute(choose).scalars())
        if chosen:
            marked += conn.execute(update(instances).where(instances.c.execution_id.in_(chosen), orphaned).values(
                health="LOST", health_message="the node executing it stopped or vanished",
                exec_version=instances.c.exec_version + 1, process_engine_id=node_id)
                .returning(instances.c.execution_id)).scalars()
        if len(chosen) < LOST_BATCH:
            return marked
