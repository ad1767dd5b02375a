"""The operation log and the history's retention (CONTRACT §12, issue 17); what a process's record
holds, and when it is written, is `runtime/history.py`'s.

The operation log's row of a call rides with the first transaction the call commits
(storage/history.PendingOperation), so the log says what was committed, in the same commit; a call
that commits nothing (a refusal, a failure) has it written alone at its end — but a read that may
change something (a fetch that disposes) is logged only when it did.
"""
from __future__ import annotations

import functools
import inspect
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ..errors import AuthorizationError, EngineError
from ..model.history import HistoryLevel, Outcome
from ..support import clock, jsontext
from ..runtime.history import keeps
from ..storage import history as rows

if TYPE_CHECKING:
    from ..runtime.node import ProcessEngine

log = logging.getLogger("process_engine.history")
# Parameters the log never keeps: secrets (and content: see _text).
_UNLOGGED = ("password", "credential", "secret", "token")
_OK = Outcome.OK.value  # (read once: every logged call's row has it)


# -- the operation log ----------------------------------------------------------------------------
F = TypeVar("F", bound=Callable[..., Any])


def audited(operation: str, target_kind: str, target: str | None = None, *, when_it_changes: bool = False
            ) -> Callable[[F], F]:
    """A facade operation whose calls the operation log keeps: `operation` as the spec names it, the
    kind of thing it acts on, and the parameter naming that thing (None: the engine, the node, …).
    `when_it_changes`: a read that may change something (a fetch that disposes an ended process), kept
    only when it did, in the transaction that did it — not when it only read, nor when it was refused."""
    def wrap(function: F) -> F:
        positional = list(inspect.signature(function).parameters)[2:]  # after the engine and the principal

        @functools.wraps(function)
        def call(pe: "ProcessEngine", principal: Any, *args: Any, **kwargs: Any) -> Any:
            if not keeps(pe, HistoryLevel.INSTANCE) or rows.PENDING.get() is not None:
                return function(pe, principal, *args, **kwargs)  # (inside another call: that one is logged)

            def logged() -> dict[str, Any]:
                bound = {**dict(zip(positional, args)), **kwargs}  # what the caller gave, by name
                return {"at": clock.now(), "user_name": principal.name, "operation": operation,
                        "target_kind": target_kind, "target": _text(bound.get(target)) if target else None,
                        "outcome": _OK, "parameters": jsontext.dumps(_parameters(bound, target)), "node": pe.node_id,
                        "message": None}
            if when_it_changes:  # its row built only by a transaction that changes something: a read seldom does
                token = rows.PENDING.set(rows.PendingOperation(build=logged))
                try:
                    return function(pe, principal, *args, **kwargs)
                finally:
                    rows.PENDING.reset(token)
            row = logged()
            pending = rows.PendingOperation(row, ready=row["target"] is not None or target_kind != "execution")
            token = rows.PENDING.set(pending)
            try:
                return function(pe, principal, *args, **kwargs)
            except Exception as exc:
                if not pending.written:
                    refused = isinstance(exc, AuthorizationError)
                    row.update(outcome=(Outcome.REFUSED if refused else Outcome.FAILED).value,
                               message=exc.message if isinstance(exc, EngineError) else type(exc).__name__)
                raise
            finally:
                rows.PENDING.reset(token)
                if not pending.written:
                    pending.each = []  # (nothing was changed: the refusal or failure is the call's alone)
                    _write_alone(pe, pending)
        return call  # type: ignore[return-value]
    return wrap


def created(execution_id: str) -> None:
    """The call under way created this execution: its operation-log row names it as the target."""
    pending = rows.PENDING.get()
    if pending is not None and not pending.written and pending.row["target_kind"] == "execution" \
            and pending.row["target"] is None:
        pending.row["target"], pending.ready = execution_id, True


def acted_on(execution_ids: list[str]) -> None:
    """The bulk call under way changes these executions (in the transaction about to commit): the log
    gets a row on each as well, so that each one's history shows the call."""
    pending = rows.PENDING.get()
    if pending is not None and not pending.written:
        pending.each = list(execution_ids)


def _write_alone(pe: "ProcessEngine", pending: rows.PendingOperation) -> None:
    try:
        with pe.db.unit_of_work() as uow:
            rows.add_operations(uow.conn, pending.rows())
            uow.commit()
    except EngineError:  # the database is gone: the call's own error (or answer) matters more
        log.warning("operation log: %s by %s not recorded (database unavailable)", pending.row["operation"],
                    pending.row["user_name"])


def _parameters(bound: dict[str, Any], target: str | None) -> list[list[str]]:
    """The call's parameters as the wire names them (camelCase) and writes them (true, 5000, ISO 8601):
    scalars and lists of scalars; content (a data store, a definition, a query) is never kept."""
    kept = []
    for name, value in bound.items():
        if name == target or value is None:
            continue
        wire = _wire_name(name)
        text = _text(value) if wire is not None else None
        if text is not None:
            kept.append([wire, text])
    return kept


@functools.lru_cache(maxsize=512)
def _wire_name(name: str) -> str | None:
    """A parameter's name as the wire spells it (camelCase); None for one never logged (a password, a
    token, …). Every logged call asks for each of its parameters: the few names there are, once each."""
    if any(word in name for word in _UNLOGGED):
        return None
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


def _text(value: Any) -> str | None:
    """A scalar as the wire writes it; None for content and anything else that is no scalar."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    if isinstance(value, datetime):
        return clock.format_timestamp(value)
    if isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, (str, int)) for v in value):
        items = sorted(map(str, value)) if isinstance(value, (set, frozenset)) else [str(v) for v in value]
        return ",".join(items)
    return None  # (a DataStore, bytes, a Query: content)
