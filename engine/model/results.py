"""What operations answer: plain dataclasses, no wire format (schemas/ renders them)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .datastore import DataStore
from .states import AutoDispose, ExecutionState, HealthState


@dataclass(frozen=True)
class DefinitionInfo:
    uri: str
    location: str
    name: str | None
    changed_at: datetime | None
    version: int


@dataclass(frozen=True)
class Health:
    state: HealthState
    message: str | None = None
    exception_type: str | None = None


@dataclass(frozen=True)
class ExceptionReport:
    type: str
    message: str
    source: str | None = None
    cause: "ExceptionReport | None" = None


@dataclass(frozen=True)
class Ace:
    name: str
    privileges: tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    execution_id: str
    external_id: str | None
    state: ExecutionState
    state_change_index: int
    auto_dispose: AutoDispose
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    current_element: str | None
    current_time: datetime
    current_user: str
    owner: str
    owner_node: str | None
    process_engine_id: str
    debug: bool
    locked: bool
    online: bool
    message: str | None
    thread_pool_id: str | None
    definition: DefinitionInfo
    health: Health
    exception: ExceptionReport | None
    permissions: tuple[Ace, ...]
    pipeline: DataStore | None


@dataclass(frozen=True)
class ParameterInfo:
    name: str
    type: str
    required: bool


@dataclass(frozen=True)
class ValidationResult:
    uri: str
    name: str | None
    parameters: tuple[ParameterInfo, ...]
    elements: tuple[str, ...]


@dataclass(frozen=True)
class ExecutionIds:
    """The answer of disposeProcesses and recoverProcesses: a count, and the IDs when asked for."""

    count: int
    execution_ids: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SnapshotList:
    """A page of findExecutions. `total` counts the matches before offset and limit: exactly, or — with
    `total_is_lower_bound` — only as far as `query.count_limit`, which is then its value (CONTRACT §5,
    like Elasticsearch's tracked total hits: the doors say "gte")."""

    snapshots: tuple[Snapshot, ...]
    total: int
    total_is_lower_bound: bool = False

    @property
    def total_relation(self) -> str:
        """`eq` or `gte`, as REST's X-Total-Count-Relation and SOAP's totalCountRelation say it."""
        return "gte" if self.total_is_lower_bound else "eq"


@dataclass(frozen=True)
class LogEntry:
    logged_at: datetime
    level: str
    element_id: str | None
    message: str


# -- Process Watchers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class WatchConditions:
    """What a watcher waits for; every given condition must hold (an end state always ends it)."""

    states: tuple[str, ...] = ()
    online: bool | None = None
    after_state_change_index: int | None = None
    health: tuple[str, ...] = ()
    element: str | None = None


@dataclass(frozen=True)
class Watcher:
    id: str
    execution_id: str
    group_id: str | None
    finished: bool
    snapshot: Snapshot | None     # what it captured, once finished


# -- Administration -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Feature:
    name: str
    state: str                    # active | inactive | disabled


@dataclass(frozen=True)
class MaintenanceLevel:
    id: str
    label: str
    online: str                   # allOnline | allOffline | noChange


@dataclass(frozen=True)
class OperationInfo:
    name: str
    description: str
    parameters: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class ModuleInfo:
    name: str
    version: str
    description: str
    operations: tuple[OperationInfo, ...]


@dataclass(frozen=True)
class ClusterInfo:
    root_node: str
    master: bool
    connection_status: str        # before | connected | tryingReconnect | disconnected | connectionLost
    status_message: str | None
    wait_state_handlers: tuple[str, ...]


@dataclass(frozen=True)
class NodeState:
    engine_id: str
    online: bool
    running_processes: int
    cluster: ClusterInfo


@dataclass(frozen=True)
class DefinitionListing:
    uri: str
    name: str | None
    changed_at: datetime


@dataclass(frozen=True)
class ServiceInfo:
    id: str
    process_uri: str
    autostart: bool
    thread_pool_id: str | None
    description: str
    state: str                    # running | stopped


# -- Diagnostics ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SanityProblem:
    check: str
    message: str
    execution_id: str | None = None


@dataclass(frozen=True)
class SanityReport:
    checks: tuple[str, ...]
    problems: tuple[SanityProblem, ...]


@dataclass(frozen=True)
class TelemetryItem:
    type: str
    id: str
    values: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class TelemetryData:
    types: tuple[str, ...]
    items: tuple[TelemetryItem, ...]


@dataclass(frozen=True)
class OutlineElement:
    """One element of a definition as a diagram draws it: its kind (the IPD tag), a short label, and the
    blocks it holds (`then`, `else`, `body`, `onError`, `onTerminate`), each a sequence of elements."""
    id: str
    full_id: str
    kind: str
    line: int
    label: str
    blocks: tuple[tuple[str, tuple["OutlineElement", ...]], ...] = ()


@dataclass(frozen=True)
class Outline:
    """A definition's structure, and for an instance where it stands: its breakpoints, the element it is
    at, and the elements its history trail says it passed (level `activity` and up)."""
    uri: str
    name: str | None
    parameters: tuple[ParameterInfo, ...]
    body: tuple[OutlineElement, ...]
    breakpoints: tuple[str, ...] = ()
    current: str | None = None
    passed: tuple[str, ...] = ()
    children: tuple[tuple[str, str, str], ...] = ()  # live instances its calls started: (ID, processUri, state)
    watchers: tuple[tuple[str, str | None, str], ...] = ()  # its open watchers: (ID, group, owner)
