"""The settings an engine is built from, as the engine reads them: what `config` fills in (from TOML and
the environment) and the engine owns the meaning of. The sections only the engine reads are its
dataclasses, which config builds; of the sections config owns (server, auth, repository) the engine
names what it reads as Protocols."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

from .model.results import MaintenanceLevel


@dataclass(frozen=True)
class ServiceSettings:
    """A service process as the settings declare it (TOML keys as the spec names them: id, processUri,
    autostart, threadPoolId, description); `config` reads them, the engine owns what they mean."""

    id: str
    process_uri: str
    autostart: bool = False
    thread_pool_id: str | None = None
    description: str = ""


@dataclass(frozen=True)
class StorageSettings:
    url: str
    sqlite_synchronous: str
    pool_size: int


class RepositorySection(Protocol):
    cache: bool

    @property
    def root(self) -> Path: ...


@dataclass(frozen=True)
class LogSettings:
    """What a new instance logs unless its caller says otherwise."""

    diagnostic_level: str
    data_level: str
    trace: bool


@dataclass(frozen=True)
class NodeSettings:
    """The `[engine]` section: this node and how it drives instances."""

    node_id: str
    max_timeout_ms: int
    default_auto_dispose: str
    default_debug: bool
    save_interval_ms: int
    timer_poll_ms: int
    dispose_retention_ms: int
    idempotency_ttl_s: int
    startup_delay_ms: int
    thread_pools: dict[str, int]
    log: LogSettings
    node_id_configured: bool = False  # set when node_id came from the settings, not generated


@dataclass(frozen=True)
class QuerySettings:
    default_limit: int
    max_limit: int
    count_limit: int = 10000   # findExecutions counts its total exactly up to this many (CONTRACT §5)


@dataclass(frozen=True)
class HistorySettings:
    """What the history keeps (CONTRACT §12): `level` is one of none, instance, activity, full; records
    older than `ttl_days` are deleted by the master in the background."""

    level: str = "instance"
    ttl_days: int = 30
    purge_batch: int = 1000    # rows deleted per statement, so no delete holds locks for long


@dataclass(frozen=True)
class ClusterSettings:
    heartbeat_ms: int
    lost_after_ms: int


@dataclass(frozen=True)
class MaintenanceSettings:
    initial: str
    levels: Sequence[MaintenanceLevel] = ()


@dataclass(frozen=True)
class IntegrationSettings:
    broker_url: str = ""
    task_manager_url: str = ""


class ServerSection(Protocol):
    """The engine sizes its database pool to the request threads that may each hold a connection."""

    threads: int


class AuthSection(Protocol):
    """Who may post a definition stream to instantiate (CONTRACT §8)."""

    stream_roles: Sequence[str]


class EngineSettings(Protocol):
    storage: StorageSettings
    repository: RepositorySection
    engine: NodeSettings
    query: QuerySettings
    cluster: ClusterSettings
    maintenance: MaintenanceSettings
    integration: IntegrationSettings
    history: HistorySettings
    server: ServerSection
    auth: AuthSection
    services: Sequence[ServiceSettings]
    constants: Mapping[str, Any]
