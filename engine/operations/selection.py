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

from dataclasses import replace

from sqlalchemy import or_
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from ..query import Query, compile_order, compile_where, page, split_by_in
from ..runtime.engine import ProcessEngine
from ..security import Principal, privilege_clause
from ..states import Privilege
from ..storage import instances as store
from ..storage.instances import InstanceRecord

EVERYTHING = Query()


def matching(principal: Principal, query: Query, also: ColumnElement | None = None,
             acting: Privilege | None = None) -> ColumnElement:
    """The query's condition, limited to what the caller may read or do `acting` on (and to `also`).
    The sort is compiled too, though unused here, so that every operation refuses the same queries."""
    compile_order(query.sort)
    there = privilege_clause(principal, Privilege.READ)
    if acting is not None:
        there = or_(there, privilege_clause(principal, acting))
    where = compile_where(query.tree) & there
    return where if also is None else where & also


def select_page(pe: ProcessEngine, conn: Connection, principal: Principal, query: Query,
                also: ColumnElement | None = None, acting: Privilege | None = None,
                for_update: bool = False) -> list[InstanceRecord]:
    """The page the query's sort, offset and limit pick (the limit defaulted and capped by the settings)."""
    offset, limit = page(query, pe.settings.query.default_limit, pe.settings.query.max_limit)
    where = matching(principal, query, also, acting)
    parts = [matching(principal, replace(query, tree=tree), also, acting) for tree in split_by_in(query.tree)]
    return store.find_instances(conn, where, compile_order(query.sort), offset, limit, for_update=for_update,
                                parts=parts)


def bounded_total(pe: ProcessEngine, conn: Connection, principal: Principal, query: Query) -> tuple[int, bool]:
    """(total, is_lower_bound): the number of matches, exact up to `query.count_limit`; past it that
    limit, marked as a lower bound — counting further would read every match of a broad query."""
    cap = pe.settings.query.count_limit
    counted = store.count_instances(conn, matching(principal, query), up_to=cap)
    return min(counted, cap), counted > cap
