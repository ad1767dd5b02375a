"""What the operations that take a query (findExecutions, countExecutions, disposeProcesses,
recoverProcesses) select: the live instances the query matches that are there for the caller, in the
query's order, one page of them (CONTRACT §5).

An instance is there for a caller who may `read` it (CONTRACT §8: findExecutions leaves out the rest)
and, for disposeProcesses and recoverProcesses, also for one who holds the very privilege the operation
needs (`dispose`, `execute`), as disposeProcess and recoverProcess by ID ask for nothing more. An
instance the caller may neither read nor act on is never selected: a refusal naming it would tell a
stranger it exists, and a broad query would fail forever on instances its caller cannot even see. One the caller may read but not
dispose or execute is selected, and refused by name (CONTRACT §10): it is not silently skipped.
"""
from __future__ import annotations

from ..model.query import And, Param, Query, QueryField, QueryOperation, check, order_of, page, split_by_in
from ..runtime.node import ProcessEngine
from ..security.authorization import Principal
from ..model.states import HealthState, Privilege
from ..storage import instances as store, selection as sql
from ..storage.database import Connection
from ..storage.instances import InstanceRecord

EVERYTHING = Query()


def matching(principal: Principal, query: Query, acting: Privilege | None = None,
             lost_only: bool = False) -> sql.Condition:
    """The query's condition (only LOST instances with `lost_only`), limited to what the caller may read
    or do `acting` on. The sort is checked too, though unused here, so that every operation refuses
    the same queries."""
    order_of(query.sort)
    tree = query.tree
    if lost_only:
        lost = Param(QueryField.HEALTH.value, QueryOperation.EQUALS.value, (HealthState.LOST.value,))
        tree = lost if tree is None else And((tree, lost))
    where = sql.condition(check(tree))
    if principal.is_admin:
        return where
    privileges = [Privilege.READ.value, Privilege.ADMIN.value] + ([acting.value] if acting is not None else [])
    return where & sql.permitted(principal.name, principal.names, privileges)


def select_page(pe: ProcessEngine, conn: Connection, principal: Principal, query: Query,
                acting: Privilege | None = None, lost_only: bool = False,
                for_update: bool = False) -> list[InstanceRecord]:
    """The page the query's sort, offset and limit pick (the limit defaulted and capped by the settings)."""
    offset, limit = page(query, pe.settings.query.default_limit, pe.settings.query.max_limit)
    where = matching(principal, query, acting, lost_only)
    parts = [matching(principal, Query(tree), acting, lost_only) for tree in split_by_in(query.tree)]
    return store.find_instances(conn, where, sql.order(order_of(query.sort)), offset, limit, for_update=for_update,
                                parts=parts)


def bounded_total(pe: ProcessEngine, conn: Connection, principal: Principal, query: Query) -> tuple[int, bool]:
    """(total, is_lower_bound): the number of matches, exact up to `query.count_limit`; past it that
    limit, marked as a lower bound — counting further would read every match of a broad query."""
    cap = pe.settings.query.count_limit
    counted = store.count_instances(conn, matching(principal, query), up_to=cap)
    return min(counted, cap), counted > cap
