"""What the history keeps (CONTRACT §12, issue 17): plain values, no storage, no wire format.

A process's record outlives the process: it is written in the transaction that ends the process (or
changes its health), so that what a caller was told is never lost, and is read by the history
operations long after the process was disposed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum

from .datastore import DataStore
from .query import Fields


class HistoryLevel(str, Enum):
    """How much the history keeps (`history.level`): each level keeps what the one before it does."""

    NONE = "none"          # nothing
    INSTANCE = "instance"  # one record per process, and the operation log
    ACTIVITY = "activity"  # also each element a process passed
    FULL = "full"          # also the end pipeline, and the entry each assign left

    def keeps(self, level: "HistoryLevel") -> bool:
        return RANK[self.value] >= RANK[level.value]


RANK = {level.value: rank for rank, level in enumerate(HistoryLevel)}  # by name: asked at every end and call


class EndState(str, Enum):
    """How a process ended (the end states of ExecutionState)."""

    FINISHED = "FINISHED"
    FAILED = "FAILED"
    TERMINATED = "TERMINATED"


class Outcome(str, Enum):
    """How a call recorded in the operation log went."""

    OK = "ok"
    REFUSED = "refused"  # the authorization check said no
    FAILED = "failed"    # any other error


@dataclass(frozen=True)
class HealthChange:
    at: datetime
    health: str           # LOST, OK (recovered), …
    node: str | None
    message: str | None = None


@dataclass(frozen=True)
class ElementVisit:
    """An element a process passed (level `activity`)."""

    id: str               # the full element ID
    entered_at: datetime
    left_at: datetime | None
    node: str | None
    outcome: str          # completed, failed, caught, terminated
    iteration: int | None = None
    data: DataStore | None = None  # level `full`, an assign: its entry as it left it


@dataclass(frozen=True)
class OperationEntry:
    """A state-changing call through either door, as the operation log keeps it."""

    at: datetime
    user: str
    operation: str        # the spec's name: setOwner, terminateProcess, …
    target_kind: str      # execution, node, engine, service, definition, watcher
    target: str | None
    outcome: Outcome
    parameters: tuple[tuple[str, str], ...]
    node: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class ProcessHistory:
    execution_id: str
    external_id: str | None
    process_uri: str
    definition_version: int | None
    owner: str
    parent_execution_id: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: int | None
    end_state: str | None         # None while the process has not ended
    message: str | None
    exception_type: str | None
    exception_source: str | None
    nodes: tuple[str, ...]
    health_changes: tuple[HealthChange, ...] = ()
    pipeline: DataStore | None = None                # level `full`
    elements: tuple[ElementVisit, ...] = ()          # getHistory, level `activity`
    operations: tuple[OperationEntry, ...] = ()      # getHistory


@dataclass(frozen=True)
class HistoryList:
    items: tuple[ProcessHistory, ...]
    total: int
    lower_bound: bool = False


@dataclass(frozen=True)
class OperationList:
    items: tuple[OperationEntry, ...]
    total: int
    lower_bound: bool = False


@dataclass(frozen=True)
class ElementStatistics:
    id: str
    count: int
    failed: int
    duration_p50_ms: int | None
    duration_p95_ms: int | None
    duration_max_ms: int | None


@dataclass(frozen=True)
class ProcessStatistics:
    process_uri: str
    count: int
    by_end_state: tuple[tuple[str, int], ...]
    failure_rate: float
    duration_p50_ms: int | None
    duration_p95_ms: int | None
    duration_max_ms: int | None
    elements: tuple[ElementStatistics, ...] = ()


# -- what a query over the history may name (CONTRACT §5's language, §12's fields) ---------------
HISTORY_FIELDS = Fields(
    names=("executionId", "externalId", "processUri", "definitionVersion", "owner", "parentExecutionId",
           "createdAt", "startedAt", "finishedAt", "durationMs", "endState", "exceptionType"),
    times=frozenset({"createdAt", "startedAt", "finishedAt"}),
    numbers=frozenset({"definitionVersion", "durationMs"}),
    enums=(("endState", EndState),),
    as_written=frozenset({"executionId", "externalId", "processUri", "owner", "parentExecutionId", "endState",
                          "exceptionType"}),
    ties=("createdAt", "executionId"),
    aliases=(("duration", "durationMs"), ("parent", "parentExecutionId"), ("state", "endState")))

OPERATION_FIELDS = Fields(
    names=("at", "user", "operation", "targetKind", "target", "outcome", "node", "id"),
    times=frozenset({"at"}), numbers=frozenset({"id"}), enums=(("outcome", Outcome),),
    as_written=frozenset({"user", "operation", "targetKind", "target", "outcome", "node"}),
    ties=("at", "id"))
